"""Guard, round two (issue 15): secrets in disguise, no hard refusal of ordinary speech, spaced
card numbers, one-time-code solicitation, off-platform contact details, scam descriptions."""

from __future__ import annotations

import os
import random

import base58
import pytest
from mnemonic import Mnemonic

from support_api.lib.guard import inspect, scam
from support_api.lib.guard._core import lower, normalise
from support_api.lib.guard.mnemonic import COMMON_WORDS
from tests import guard_corpus as corpus

RNG = random.Random(15)
EN = Mnemonic("english")
JA = Mnemonic("japanese")


def _phrase(checker: Mnemonic = EN, words: int = 12) -> list[str]:
    strength = {12: 128, 24: 256}[words]
    sep = "\u3000" if checker is JA else " "
    return checker.to_mnemonic(bytes(RNG.getrandbits(8) for _ in range(strength // 8))).split(sep)


def _wif() -> str:
    return base58.b58encode_check(b"\x80" + os.urandom(32) + b"\x01").decode()


def _homoglyphs(text: str) -> str:
    return text.translate(str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х"}))


def disguised_secrets() -> list[tuple[str, str, str]]:
    """(id, text, kind): every disguise of issue 15, each a refusal."""
    en, en24, ja = _phrase(), _phrase(words=24), _phrase(JA)
    wif = _wif()
    return [
        ("phrase-no-separator", "".join(en), "mnemonic"),
        ("phrase-no-separator-capitalised", "".join(w.capitalize() for w in en), "mnemonic"),
        ("phrase-24-no-separator", "my words: " + "".join(en24), "mnemonic"),
        ("phrase-ja-no-separator", "".join(ja), "mnemonic"),
        ("phrase-and", " and ".join(en), "mnemonic"),
        ("phrase-and-ja-wrapper", "シードは " + " and ".join(en) + " です", "mnemonic"),
        ("phrase-cyrillic", _homoglyphs(" ".join(en)), "mnemonic"),
        ("phrase-zero-width-between", "\u200b".join(en), "mnemonic"),
        ("phrase-zero-width-inside", " ".join(w[:2] + "\u200d" + w[2:] for w in en), "mnemonic"),
        ("phrase-math-bold", " ".join(en).translate({c: 0x1D41A + c - 0x61 for c in range(0x61, 0x7B)}), "mnemonic"),
        ("wif-groups-of-four", " ".join(wif[i:i + 4] for i in range(0, len(wif), 4)), "private_key"),
        ("wif-groups-hyphen", "key: " + "-".join(wif[i:i + 4] for i in range(0, len(wif), 4)), "private_key"),
        ("wif-zero-width", wif[:9] + "\u200b" + wif[9:33] + "\ufeff" + wif[33:], "private_key"),
        ("wif-cyrillic-free", "here " + wif, "private_key"),
        ("password-zero-width", "my pass\u200bword is hunter22", "password"),
        ("password-soft-hyphen", "pass\u00adword: hunter22", "password"),
        ("password-cyrillic", _homoglyphs("password") + ": hunter22", "password"),
        ("password-fullwidth-cyrillic-mix", "раsswоrd：ｈｕｎｔｅｒ２２", "password"),
        ("pin-nbsp", "PIN:\u00a04821", "password"),
    ]


@pytest.mark.parametrize("case", disguised_secrets(), ids=lambda c: c[0])
def test_disguised_secret_is_refused(case: tuple[str, str, str]) -> None:
    _, text, kind = case
    result = inspect(text)
    assert result.blocked is not None and result.blocked.kind == kind
    assert 0 <= result.blocked.start < result.blocked.end <= len(text)


def test_spans_map_back_onto_the_original_text() -> None:
    text = "ok\u200b\u200b PIN: 4821"
    result = inspect(text)
    assert result.blocked is not None and text[result.blocked.start:result.blocked.end] == "4821"
    card = "カード\u200b 4111\u00a01111\u00a01111\u00a01111 です"
    masked = inspect(card)
    assert masked.masked_text == "カード\u200b ****\u00a0****\u00a0****\u00a01111 です"


def test_normalise_is_identity_for_plain_text() -> None:
    assert normalise("plain ascii") is None
    assert normalise("普通の日本語の文です。") is None
    view, positions = normalise("a\u200bb") or ("", [])
    assert view == "ab" and positions == [0, 2]


@pytest.mark.parametrize("text", corpus.LIST_WORD_PROSE)
def test_list_word_prose_asks_and_is_never_refused(text: str) -> None:
    result = inspect(text)
    assert result.blocked is None
    assert result.ambiguous is not None and result.ambiguous.kind == "possible_mnemonic"


def test_generated_phrases_are_still_refused_not_asked() -> None:
    asked = 0
    for _ in range(300):
        result = inspect(" ".join(_phrase()))
        assert result.blocked is not None or result.ambiguous is not None
        asked += result.blocked is None
    assert asked <= 1  # about 1 in 12,000 expected (COMMON_WORDS, FUNCTION_WORDS)


def test_common_words_copy_matches_wordfreq() -> None:
    import wordfreq  # a test dependency (pyproject.toml), never the server's

    expected = {word for word in EN.wordlist if wordfreq.zipf_frequency(word, "en") >= 5.0}
    assert expected == COMMON_WORDS


@pytest.mark.parametrize("text", corpus.EVERYDAY + corpus.EVERYDAY_LONG, ids=lambda t: t[:50])
def test_everyday_message_is_untouched(text: str) -> None:
    result = inspect(text)
    assert (result.blocked, result.ambiguous, result.masked) == (None, None, ())
    assert scam.find(lower(text)) is None


@pytest.mark.parametrize("text", [
    "card 4111 1111 1111 1111",
    "my card is 4111  1111  1111  1111",
    "4111\t1111\t1111\t1111",
    "カード番号 5555\u00a05555\u00a05555\u00a04444",
    "card: 3530 1113 3330 0000 thanks",
])
def test_spaced_card_numbers_are_masked(text: str) -> None:
    result = inspect(text)
    assert [f.kind for f in result.masked] == ["card_number"]
    digits = [c for c in result.masked_text if c.isdigit()]
    assert len(digits) == 4 and result.masked_text.count("*") == 12


OTP_REQUESTS = [
    "Please send me the code you just received.",
    "Could you read me the code from your authenticator app?",
    "Please tell me the number in the SMS we sent.",
    "I just sent a code to your phone, please reply with it here.",
    "Please share the code from Google Authenticator.",
    "SMSで届いたコードを教えてください",
    "先ほど届いた6桁の番号をこちらに送ってください",
    "認証アプリに表示されている数字を教えてください",
    "届いたコードを教えていただけますか",
]
OTP_ORDINARY = [
    "Did you receive the verification code?",
    "Please enter the code you received in the app.",
    "Please don't share the code you received with anyone.",
    "Please tell me the error code you received.",
    "Please tell me the order number.",
    "認証コードは誰にも教えないでください。",
    "SMSで届いたコードはアプリに入力してください。",
]


@pytest.mark.parametrize("text", OTP_REQUESTS)
def test_operator_asking_for_a_one_time_code_is_refused(text: str) -> None:
    result = inspect(text, author="operator")
    assert result.blocked is not None and result.blocked.kind == "solicitation"


@pytest.mark.parametrize("text", OTP_ORDINARY)
def test_operator_talking_about_codes_is_not_refused(text: str) -> None:
    assert inspect(text, author="operator").blocked is None


ALLOW = ("example-exchange.com",)
OFF_PLATFORM = [
    "Message me on Telegram: @support_help_desk",
    "Please contact us at https://t.me/exchange_support_official",
    "wa.me/818012345678 で対応します",
    "Add our LINE: line.me/ti/p/abcdef",
    "LINE ID: support_jp01 に追加してください",
    "Join discord.gg/abcd1234 for faster help",
    "signal.me/#p/+818012345678",
    "Contact me at agent.tanaka@gmail.com for a faster answer",
    "Call me at 090-1234-5678 please",
    "個人的にこちらにご連絡ください 080-9876-5432",
    "See https://bit.ly/3xYz for the fix",
    "Download the fix at www.exchange-support-help.net/fix",
    "Discord: helper#1234",
]
OPERATOR_FINE = [
    "Please see https://help.example-exchange.com/faq/withdrawals for the steps.",
    "You can also write to support@example-exchange.com.",
    "We have no Telegram or WhatsApp support; anyone there claiming to be us is a scammer.",
    "We sent the code to your registered number 090-1234-5678.",
    "Please check the address on www.example-exchange.com/status.",
    "LINEでのログインには対応しておりません。",
    "Thanks @tanaka, I will check.",
]


@pytest.mark.parametrize("text", OFF_PLATFORM)
def test_operator_off_platform_details_are_refused(text: str) -> None:
    result = inspect(text, author="operator", allowed_domains=ALLOW)
    assert result.blocked is not None and result.blocked.kind == "off_platform"


@pytest.mark.parametrize("text", OPERATOR_FINE)
def test_operator_official_links_and_warnings_pass(text: str) -> None:
    assert inspect(text, author="operator", allowed_domains=ALLOW).blocked is None


@pytest.mark.parametrize("text", corpus.OPERATOR_ORDINARY)
def test_operator_ordinary_corpus_still_passes(text: str) -> None:
    assert inspect(text, author="operator", allowed_domains=ALLOW).blocked is None


def test_users_may_send_links_and_handles() -> None:
    assert inspect("the fake support was @support_help_desk on t.me/fake").blocked is None


SCAMS = [
    ("Someone from support contacted me on Telegram and asked for my wallet", "fake_support"),
    ("A person who said they were from support messaged me on WhatsApp", "fake_support"),
    ("They told me I must pay a 10% tax to unlock my funds", "unlock_fee"),
    ("My account is frozen and the agent says I need to pay a fee to withdraw", "unlock_fee"),
    ("I found a crypto recovery service online, can they help?", "recovery_service"),
    ("They asked me to send 0.1 BTC to verify my account", "verify_by_sending"),
    ("サポートを名乗る人からLINEで連絡が来ました", "fake_support"),
    ("出金するには手数料を払わないといけないと言われました", "unlock_fee"),
    ("資産回収業者に依頼しようと思います", "recovery_service"),
    ("アカウント認証のためにビットコインを送金するよう言われました", "verify_by_sending"),
]


@pytest.mark.parametrize("case", SCAMS, ids=lambda c: c[0][:40])
def test_scam_descriptions_are_recognised(case: tuple[str, str]) -> None:
    text, reason = case
    assert scam.find(lower(text)) == reason
    assert inspect(text).blocked is None  # a warning, never a refusal


@pytest.mark.parametrize("text", corpus.ORDINARY, ids=lambda t: t[:50])
def test_ordinary_corpus_is_no_scam(text: str) -> None:
    assert scam.find(lower(text)) is None


def test_keys_in_groups_are_refused_whatever_their_letters() -> None:
    """Any WIF, whatever its chunks look like (a chunk of lower-case letters reads like a word)."""
    for index in range(400):
        payload = bytes([0x80 if index % 2 else 0xEF]) + bytes(RNG.getrandbits(8) for _ in range(32)) + b"\x01"
        wif = base58.b58encode_check(payload).decode()
        for separator in (" ", "-"):
            text = separator.join(wif[i:i + 4] for i in range(0, len(wif), 4))
            result = inspect(text)
            assert result.blocked is not None and result.blocked.kind == "private_key", text
