"""Users describing a typical scam (`scam_suspected`): not refused, but warned and routed.

A user who writes that "support" reached them on Telegram, that they must pay a fee to unlock
their funds, that a "recovery service" offers to get their coins back, or that they were told
to send crypto to verify their account is probably being defrauded right now. `find` says
which of these a user's message describes (the first one found), or None:

| reason               | what (each part within one sentence, English or Japanese)                       |
|----------------------|----------------------------------------------------------------------------------|
| `fake_support`       | someone from support/staff + contacted / messaged / called + elsewhere (Telegram, WhatsApp, LINE, Signal, Discord, X/Twitter, DM, a phone call, e-mail) |
| `unlock_fee`         | a fee / tax / deposit + to unlock / release / recover / withdraw funds or the account |
| `recovery_service`   | a "recovery service / agent / company / expert", 資産回収 / 復旧業者             |
| `verify_by_sending`  | send / deposit crypto + to verify / validate / activate the account or wallet    |

The rule is co-occurrence in one sentence, so a question that only names an app ("can I log
in with LINE?", "is there a Telegram group?") or a fee ("what is the withdrawal fee?") is
not a scam description. A false hit costs a warning message and a place in the security
queue, not a refusal.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"[!?。！？\n]|\.(?![0-9])")

# Someone claiming to be support (not "I contacted support", which is what users do here).
_CLAIMS_SUPPORT = re.compile(
    r"(?:from|claim\w*\s+to\s+be|said\s+(?:they|he|she)\s+(?:was|were|is|are)|pretend\w*\s+to\s+be|posing\s+as"
    r"|introduced\s+(?:him|her|them)sel(?:f|ves)\s+as)\s+(?:the\s+|your\s+|an?\s+)?(?:official\s+)?"
    r"(?:support|staff|admin|agent|employee|customer\s+(?:service|support)|help\s?desk|security\s+team)"
    r"|(?:support|staff|admin|customer\s+service)\s+(?:agent|team|person|member)?\s*(?:contacted|messaged|dm'?e?d|called|texted|added|reached|wrote)"
    r"|(?:サポート|運営|スタッフ|担当者?|カスタマー|公式|取引所の?(?:社員|人|者))(?:を名乗|と名乗|を名の|を称|の人|の方|から|って人|という人|を装)"
)
# One of these is in every match of `_CLAIMS_SUPPORT`: a substring test skips it for most texts.
_SUPPORT_NEEDLES = ("support", "staff", "admin", "customer", "help", "security", "サポート", "運営", "スタッフ",
                    "担当", "カスタマー", "公式", "取引所")
_ELSEWHERE = re.compile(
    r"telegram|whats\s?app|(?<![a-z])line(?![a-z])|signal|discord|twitter|(?<![a-z])x(?![a-z])|instagram|facebook"
    r"|(?<![a-z])dm|direct\s+message|phone|call(?:ed)?\s+me|(?<![a-z])sms|テレグラム|ワッツアップ|ライン|シグナル"
    r"|ディスコード|ツイッター|インスタ|フェイスブック|電話|ｄｍ|ショートメール"
)
_FEE = re.compile(r"fee|tax|deposit|charge|pay|手数料|税|保証金|費用|支払|払|振り込|振込|入金")
_UNLOCK = re.compile(
    r"unlock|unfreez|unblock|release|recover|withdraw|get\s+(?:my|the|your)\s+(?:money|funds|coins|crypto|assets)\s+back"
    r"|frozen|locked|解除|凍結|引き出|出金|返金|取り戻|開放|解放|ロック"
)
# Someone demands it: "they told me", "asked me to pay", "言われ", "求められ".
_DEMAND = re.compile(
    r"told\s+me|asked\s+me|ask(?:s|ing)?\s+me|wants?\s+me|want(?:s|ed)?\s+(?:a|me)|said|says|demand|requir|insist|otherwise"
    r"|they|(?<![a-z])he(?![a-z])|(?<![a-z])she(?![a-z])|someone|must\s+pay|have\s+to\s+pay|need\s+to\s+pay\s+(?:them|him|her)"
    r"|言われ|求められ|要求|請求され|指示され|と言|必要だと|しないと|払わないと|ないと(?:出金|引き出|解除)|支払えば|払えば"
)
_RECOVERY_SERVICE = re.compile(
    r"recovery\s+(?:service|agent|agency|company|firm|expert|specialist|hacker)s?"
    r"|recover\s+(?:my|your|lost|stolen)\s+(?:funds|crypto|coins|money|bitcoin)\s+for\s+(?:a\s+)?fee"
    r"|資産回収|回収業者|復旧業者|回収代行|取り戻せる(?:業者|会社|サービス)|返金代行|リカバリー(?:業者|サービス|会社)"
)
_CRYPTO = re.compile(r"btc|eth|usdt|xrp|crypto|coin|bitcoin|ether|仮想通貨|暗号資産|ビットコイン|イーサ|コイン")
_SEND = re.compile(r"send|sent|deposit|transfer|送金|送って|送る|送れ|送った|入金|振り込")
_VERIFY = re.compile(r"verif|validat|activat|authenticat|(?<![a-z])sync|認証|本人確認|有効化|同期|アカウント確認|ウォレット確認")
_VERIFY_PURPOSE = re.compile(
    r"(?:to|for|in\s+order\s+to)\s+(?:\w+\s+)?(?:verif|validat|activat|authenticat|sync)"
    r"|(?:認証|本人確認|有効化|同期|確認)(?:の|する|のため|用)?(?:ため|ために|には|として|手続き)"
)


def find(lowered: str) -> str | None:
    """The kind of scam `lowered` (the lower-cased view of a user's message) describes, or None."""
    if _RECOVERY_SERVICE.search(lowered):
        return "recovery_service"
    # Each family needs all its parts somewhere in the text before sentences are looked at:
    # most messages lack one, and one search per pattern is cheaper than one per sentence.
    fake = bool(any(needle in lowered for needle in _SUPPORT_NEEDLES) and _CLAIMS_SUPPORT.search(lowered)
                and _ELSEWHERE.search(lowered))
    fee = bool(_FEE.search(lowered) and _UNLOCK.search(lowered) and _DEMAND.search(lowered))
    verify = bool(_SEND.search(lowered) and _CRYPTO.search(lowered) and _VERIFY.search(lowered)
                  and _VERIFY_PURPOSE.search(lowered))
    if not (fake or fee or verify):
        return None
    for text in _SENTENCE_END.split(lowered):
        if len(text) < 8:
            continue
        if fake and _CLAIMS_SUPPORT.search(text) and _ELSEWHERE.search(text):
            return "fake_support"
        if fee and _FEE.search(text) and _UNLOCK.search(text) and _DEMAND.search(text):
            return "unlock_fee"
        if verify and _SEND.search(text) and _CRYPTO.search(text) and _VERIFY.search(text) \
                and _VERIFY_PURPOSE.search(text):
            return "verify_by_sending"
    return None
