"""FAQ search at 1,000 articles: top-3 hit rate of the query set and search latency.

The 8 starter articles (support_api/lib/faq/starter_articles.yaml) are mixed with 992
generated distractors on neighbouring topics (coins, fees, lending, taxes, app settings…),
written in ja and en from templates with a fixed seed, so every run indexes the same corpus.
Each query of tests/faq_queries.py must find its starter article among the first three.

Measured in-process on the index the server uses (lib/faq/index.py: Sudachi terms, synonyms,
BM25): index build time, then every query `--rounds` times; p50/p99 latency per search. The
server adds one one-row version read and JSON to each request.

    .venv/bin/python bench/faq_bench.py [--articles 1000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from importlib import resources
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support_api.lib.faq.index import Article, FaqIndex  # noqa: E402
from tests.faq_queries import QUERIES  # noqa: E402

COINS = [("ビットコイン", "Bitcoin"), ("イーサリアム", "Ethereum"), ("リップル", "XRP"), ("ライトコイン", "Litecoin"),
         ("モナコイン", "Monacoin"), ("ポルカドット", "Polkadot"), ("ソラナ", "Solana"), ("ドージコイン", "Dogecoin"),
         ("チェーンリンク", "Chainlink"), ("アバランチ", "Avalanche")]
TOPICS = [
    ("の取扱いについて", "listing", "{c}の取扱い開始日と対象サービスをご案内します。", "When {e} was listed and which services support it."),
    ("のレンディング", "lending", "{c}を貸し出して賃借料を受け取るサービスの条件です。", "Lend your {e} and earn a fee: the terms."),
    ("の積立", "recurring purchase", "毎月決まった日に{c}を自動で購入する積立の設定方法です。", "Set up a monthly recurring purchase of {e}."),
    ("の最小取引単位", "minimum order size", "{c}の販売所と取引所での最小注文数量の一覧です。", "The smallest {e} amounts you can order on each market."),
    ("のネットワーク手数料", "network fee", "{c}の送付時にかかるネットワーク手数料の目安です。", "What the blockchain charges to send {e}."),
    ("のハードフォーク対応", "hard fork", "{c}のハードフォーク時の入出庫停止と付与方針です。", "How we handle a {e} hard fork and its new coins."),
    ("のチャート表示", "price chart", "{c}のローソク足チャートの期間とインジケーターの設定です。", "Candle periods and indicators on the {e} chart."),
    ("の税金計算", "tax report", "{c}の損益計算と年間取引報告書のダウンロード方法です。", "Calculate {e} gains and download the annual report."),
    ("のアドレス形式", "address format", "{c}の受取アドレスの形式と宛先タグについて説明します。", "The {e} address format and destination tags."),
    ("の価格アラート", "price alert", "{c}が指定した価格に達したときに通知を受け取る設定です。", "Get notified when {e} reaches a price you choose."),
]
GENERAL = [
    ("アプリの通知設定", "App notification settings", "プッシュ通知のオン・オフと通知音を変更できます。", "Turn push notifications on or off and change the sound."),
    ("登録住所の変更", "Changing your address", "引っ越した場合は登録住所の変更手続きが必要です。", "After moving, update your registered address."),
    ("退会の手続き", "Closing your account", "残高をすべて出金してから退会を申請してください。", "Withdraw all balances before asking to close your account."),
    ("ダークモード", "Dark mode", "アプリの表示設定から画面の配色を切り替えられます。", "Switch the colour scheme in the app's display settings."),
    ("APIキーの発行", "Creating an API key", "自動売買用のAPIキーを作成し、権限を設定します。", "Create an API key for automated trading and set its permissions."),
    ("キャンペーンの参加条件", "Campaign conditions", "キャンペーンごとの参加条件と特典の付与時期です。", "Who may join each campaign and when rewards are paid."),
    ("メールアドレスの変更", "Changing your email address", "登録メールアドレスは設定画面から変更できます。", "Change your registered email in the settings screen."),
    ("取引履歴のダウンロード", "Downloading your trade history", "取引履歴をCSV形式でダウンロードできます。", "Download your trade history as CSV."),
]


def corpus(size: int, seed: int = 12) -> list[Article]:
    raw = resources.files("support_api.lib.faq").joinpath("starter_articles.yaml").read_text("utf-8")
    articles = [Article(a["id"], a["category"], a["locales"], tuple(a.get("keywords", [])), True)
                for a in yaml.safe_load(raw)["articles"]]
    rng = random.Random(seed)
    n = 0
    while len(articles) < size:
        if rng.random() < 0.8:
            (cj, ce), (tj, te, bj, be) = rng.choice(COINS), rng.choice(TOPICS)
            title_ja, title_en, body_ja, body_en = f"{cj}{tj}", f"{ce} {te}", bj.format(c=cj), be.format(e=ce)
            category = "trading"
        else:
            title_ja, title_en, body_ja, body_en = rng.choice(GENERAL)
            category = "other"
        extra_ja = "詳しくはヘルプセンターをご覧ください。" if rng.random() < 0.5 else "ご不明点はチャットでお問い合わせください。"
        extra_en = "See the help centre for details." if rng.random() < 0.5 else "Ask us in the chat if anything is unclear."
        n += 1
        articles.append(Article(f"gen-{n:04d}", category,
                                {"ja": {"title": f"{title_ja} ({n})", "body": f"{body_ja}\n{extra_ja}"},
                                 "en": {"title": f"{title_en} ({n})", "body": f"{body_en}\n{extra_en}"}},
                                (), True))
    return articles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    articles = corpus(args.articles)
    start = time.perf_counter()
    index = FaqIndex(articles)
    build = time.perf_counter() - start
    top1 = top3 = 0
    for query, expected in QUERIES:
        ids = [hit.article.id for hit in index.search(query, limit=3)]
        top1 += bool(ids) and ids[0] == expected
        top3 += expected in ids
    # First pass on a fresh index: every word's scores computed (the cost after an edit).
    fresh = FaqIndex(articles)
    cold = []
    for query, _expected in QUERIES:
        t0 = time.perf_counter()
        fresh.search(query, limit=10)
        cold.append((time.perf_counter() - t0) * 1000)
    cold.sort()
    latencies = []
    for _ in range(args.rounds):
        for query, _expected in QUERIES:
            t0 = time.perf_counter()
            index.search(query, limit=10)
            latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"articles {len(articles)}, queries {len(QUERIES)} (ja+en), index build {build:.2f} s")
    print(f"top-1 hit rate {top1 / len(QUERIES):.3f}, top-3 hit rate {top3 / len(QUERIES):.3f}")
    print(f"search latency over {len(latencies)} searches: p50 {statistics.median(latencies):.2f} ms, "
          f"p99 {p99:.2f} ms, max {latencies[-1]:.2f} ms")
    print(f"first search of each query on a fresh index: p50 {statistics.median(cold):.2f} ms, "
          f"max {cold[-1]:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
