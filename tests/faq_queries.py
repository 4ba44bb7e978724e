"""The FAQ search query set: what users type (paraphrases, never the titles), in Japanese and
English, with the starter article that answers it. Used by tests/e2e/test_self_service_e2e.py
(top-3 hit rate threshold) and bench/faq_bench.py."""

from __future__ import annotations

QUERIES: list[tuple[str, str]] = [
    # account-opening-incomplete
    ("口座開設の申し込みをしたのにまだ終わらない", "account-opening-incomplete"),
    ("本人確認書類を出したけど審査が進まない", "account-opening-incomplete"),
    ("アカウント登録がずっと審査中のまま", "account-opening-incomplete"),
    ("I signed up a week ago and my account is still not open", "account-opening-incomplete"),
    ("my KYC documents were rejected, what now?", "account-opening-incomplete"),
    # deposit-not-reflected
    ("振り込んだのに残高が増えていない", "deposit-not-reflected"),
    ("銀行から送金したお金がアカウントに入ってこない", "deposit-not-reflected"),
    ("入金したけど反映されてない", "deposit-not-reflected"),
    ("I sent money from my bank but my balance is still zero", "deposit-not-reflected"),
    ("deposit not credited yet", "deposit-not-reflected"),
    ("bank transfer made yesterday doesn't show up", "deposit-not-reflected"),
    # withdrawal-delayed
    ("出金申請したのにまだ届かない", "withdrawal-delayed"),
    ("引き出したお金がいつまでたっても銀行に来ない", "withdrawal-delayed"),
    ("ビットコインを送金したのに着金しない、出金が遅すぎる", "withdrawal-delayed"),
    ("my withdrawal has been pending for days", "withdrawal-delayed"),
    ("why is my cash out taking so long", "withdrawal-delayed"),
    # cannot-trade
    ("注文ボタンを押してもエラーで買えない", "cannot-trade"),
    ("ビットコインを売ろうとしたら注文が通らない", "cannot-trade"),
    ("残高不足と表示されて売買できない", "cannot-trade"),
    ("my buy order keeps getting rejected", "cannot-trade"),
    ("unable to sell my ETH, the order fails", "cannot-trade"),
    # never-share-secrets
    ("サポートにパスワードを教えても大丈夫？", "never-share-secrets"),
    ("秘密鍵をチャットで送ってと言われた", "never-share-secrets"),
    ("is it safe to send my seed phrase to support", "never-share-secrets"),
    ("someone asked me for my private key", "never-share-secrets"),
    # two-factor-authentication
    ("2FAの認証コードが通らない", "two-factor-authentication"),
    ("機種変更したら認証アプリが使えなくなった", "two-factor-authentication"),
    ("ワンタイムパスワードを設定したい", "two-factor-authentication"),
    ("my authenticator code is always invalid", "two-factor-authentication"),
    ("lost my phone with google authenticator", "two-factor-authentication"),
    # phishing-and-fake-support
    ("サポートを名乗る人からSNSでDMが来た", "phishing-and-fake-support"),
    ("怪しいメールのリンクからログインしてしまった", "phishing-and-fake-support"),
    ("偽サイトに情報を入力したかもしれない", "phishing-and-fake-support"),
    ("got an SMS with a link to a login page that looks fake", "phishing-and-fake-support"),
    ("someone on Telegram says he is from support", "phishing-and-fake-support"),
    # account-security
    ("知らないログイン通知が届いた", "account-security"),
    ("アカウントが乗っ取られたかもしれない", "account-security"),
    ("how do I keep my account safe", "account-security"),
    ("I think someone hacked my account", "account-security"),
]

# The least share of QUERIES whose answer must be among the first three results.
TOP3_THRESHOLD = 0.9
