"""FAQ search pieces and the text catalogue, in-process (the server-level tests are in
tests/e2e/test_self_service_e2e.py)."""

from __future__ import annotations

from importlib import resources

import yaml
from werkzeug.datastructures import LanguageAccept

from support_api.lib import push_text, system_text
from support_api.lib.faq.index import Article, FaqIndex, snippet
from support_api.lib.faq.synonyms import alternatives
from support_api.lib.faq.tokenize import terms
from support_api.lib.text import negotiate, text
from tests.faq_queries import QUERIES, TOP3_THRESHOLD


def _starter() -> list[Article]:
    raw = resources.files("support_api.lib.faq").joinpath("starter_articles.yaml").read_text("utf-8")
    return [Article(a["id"], a["category"], a["locales"], tuple(a.get("keywords", [])), True)
            for a in yaml.safe_load(raw)["articles"]]


def test_terms_fold_width_and_spelling_variants() -> None:
    assert terms("振り込み") == terms("振込") == terms("振込み")
    assert terms("ﾛｸﾞｲﾝ") == terms("ログイン")
    assert terms("２ＦＡ") == terms("2fa")
    assert terms("Withdrawals are delayed") == ["withdraw", "delay"]
    assert terms("入金が反映されません") == ["入金", "反映"]  # particles and auxiliaries dropped


def test_an_identifier_is_one_term() -> None:
    # A pasted id shattered into single letters and digits matched the 2FA article (2 + fa).
    assert terms("txid 0x3C2FA91B0E") == ["txid", "0x3c2fa91b0e"]
    assert terms("注文番号AB12CD34EFの件") == ["注文", "番号", "ab12cd34ef", "件"]
    assert terms("2FAを設定") == ["2", "fa", "設定"]  # short mixes are words, not ids
    assert terms("iPhone15") == ["iphon", "15"]
    index = FaqIndex(_starter())
    for pasted in ("zqxv-3c2fa91b0e", "3c2fa91b0e", "0x" + "2fa0" * 10, "bc1q2fa" + "9" * 30):
        assert index.search(pasted) == [], pasted


def test_synonyms_connect_languages_and_words() -> None:
    found = alternatives(terms("2FAが使えない"))
    assert any(("2", "段階", "認証") in others for _, others in found)
    assert alternatives(terms("こんにちは")) == []


def test_the_query_set_on_the_starter_articles() -> None:
    index = FaqIndex(_starter())
    hits = sum(expected in [h.article.id for h in index.search(q, limit=3)] for q, expected in QUERIES)
    assert hits / len(QUERIES) >= TOP3_THRESHOLD


def test_search_filters_and_snippets() -> None:
    articles = _starter()
    hidden = Article("hidden", "funds", {"en": {"title": "Deposit bonus", "body": "A deposit bonus."}}, (), False)
    index = FaqIndex([*articles, hidden])
    assert "hidden" not in [h.article.id for h in index.search("deposit bonus")]
    assert "hidden" in [h.article.id for h in index.search("deposit bonus", published_only=False)]
    assert all(h.article.category == "security" for h in index.search("password", category="security"))
    assert index.search("deposit", min_score=1000) == []
    assert FaqIndex([]).search("deposit") == []
    deposit = next(a for a in articles if a.id == "deposit-not-reflected")
    assert "24" in snippet(deposit, "en", terms("still not credited after 24 hours"))
    only_en = Article("x", "other", {"en": {"title": "T", "body": "See [the page](https://example.com)."}}, (), True)
    assert snippet(only_en, "ja") == "See the page."


def test_the_catalogue_and_the_language_choice() -> None:
    assert text("ja-JP", "{name} joined", name="Sato") == "Sato が対応します"
    assert text("fr", "{name} joined", name="Sato") == "Sato joined"
    assert system_text.operator_joined("ja", None) == "オペレーター が対応します"
    assert push_text.waiting_text("en", "funds")[0] == "A chat is waiting"
    # Issue 13's incident texts live in the same catalogue (merged into lib/text/ja.po).
    title, body = {"ja": "取引システムの障害", "en": "Trading outage"}, {"ja": "調査中です。", "en": "Looking into it."}
    assert system_text.incident_update("ja", title, "identified", body, None) == (
        "【原因特定】取引システムの障害\n調査中です。\n復旧見込み: 確認中")
    assert system_text.incident_resolved("en", title, body).startswith("[Resolved] Trading outage\nLooking into it.")
    assert push_text.incident_text("ja", "【復旧】取引システムの障害\n…") == ("障害情報が更新されました", "【復旧】取引システムの障害")
    assert negotiate("en", LanguageAccept([("ja", 1)])) == "en"
    assert negotiate(None, LanguageAccept([("ja-JP", 1), ("en", 0.5)])) == "ja"
    assert negotiate(None, LanguageAccept([("de", 1)])) == "en"
    assert negotiate(None, None) == "en"
