"""Localised system messages in a chat (ja, en), chosen from the user's token locale."""

from __future__ import annotations

from datetime import datetime

from support_api.lib.business_hours import TOKYO
from support_api.lib.categories import category_name
from support_api.lib.push_text import language

_DAYS = {"ja": "月火水木金土日", "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


def operator_joined(locale: str | None, name: str | None) -> str:
    if language(locale) == "ja":
        return f"{name or 'オペレーター'} が対応します"
    return f"{name or 'An operator'} joined"


def transferred(locale: str | None, department: str) -> str:
    """Told to the user when staff move their chat to another department's queue."""
    if language(locale) == "ja":
        return f"{category_name('ja', department)}の担当へお引き継ぎしました。順番に対応いたしますので、このままお待ちください。"
    return f"Your chat was passed to our {category_name('en', department)} team. An operator will answer in turn."


def auto_closed(locale: str | None) -> str:
    """The last message of a chat closed for inactivity (services/auto_close.py)."""
    if language(locale) == "ja":
        return "しばらくご返信がなかったため、このチャットを終了しました。ご不明点があれば、いつでも再開できます。"
    return "This chat was closed because it has been quiet for a while. You can reopen it any time."


def out_of_hours(locale: str | None, opens_at: datetime | None) -> str:
    """The reply to a chat opened outside its department's hours; `opens_at` is when it next opens."""
    lang = language(locale)
    if opens_at is None:
        return ("ただいま受付時間外です。営業時間になり次第、順番に対応いたします。" if lang == "ja" else
                "We are outside support hours. An operator will answer in turn when support opens.")
    local = opens_at.astimezone(TOKYO)
    day = _DAYS[lang][local.weekday()]
    if lang == "ja":
        return (f"ただいま受付時間外です。{local.month}月{local.day}日({day}) {local:%H:%M}（日本時間）以降、"
                "順番に対応いたします。このままお待ちください。")
    return (f"We are outside support hours. An operator will answer in turn from {day} {local:%d %b %H:%M} "
            "(Japan time). Your chat stays in the queue.")


# --- issue 15: trust and safety (services/safety.py) -------------------------------------------

def scam_warning(locale: str | None) -> str:
    """Told at once to a user who described a likely scam; their chat goes to the security team."""
    if language(locale) == "ja":
        return ("ご注意ください：当社のサポートが Telegram・WhatsApp・LINE・SNS などアプリの外でご連絡することはありません。"
                "リカバリーフレーズ・秘密鍵・パスワード・認証コードをお尋ねすることも、資産の解除や回収のために手数料や送金を"
                "求めることも絶対にありません。相手には何も送らず、やり取りを中止してください。"
                "このチャットはセキュリティ担当が優先して対応します。")
    return ("Warning: our support never contacts you outside this app (Telegram, WhatsApp, LINE, social media), never "
            "asks for your recovery phrase, private key, password or verification codes, and never asks you to pay "
            "a fee or send crypto to unlock, recover or verify anything. Send nothing and stop replying to them. "
            "Our security team will take this chat first.")


def redacted(locale: str | None) -> str:
    """What replaces a stored message that, with the sender's next one, made up a secret."""
    if language(locale) == "ja":
        return "［このメッセージは秘密情報の一部を含むため削除されました］"
    return "[This message was removed: it held part of a secret]"


def verify_advice(locale: str | None, verdict: str) -> str:
    """The verification screen's line for POST /v1/verify-contact."""
    ja = language(locale) == "ja"
    if verdict == "official":
        return ("これは当社の公式チャネルです。それでもリカバリーフレーズ・秘密鍵・パスワード・認証コードは絶対に伝えないでください。" if ja
                else "This is one of our official channels. Even so, never share your recovery phrase, private key, "
                     "password or verification codes.")
    if verdict == "not_official":
        return ("これは当社の公式チャネルではありません。当社のサポートはアプリ内のチャット以外でご連絡しません。"
                "相手には何も送らず、このチャットでお知らせください。" if ja
                else "This is NOT one of our official channels. Our support only talks to you in this app's chat. "
                     "Send them nothing and tell us here.")
    return ("確認できる連絡先（ID・リンク・メールアドレス・電話番号）が見つかりませんでした。" if ja
            else "No handle, link, e-mail address or phone number was found to check.")
# --- incidents (services/incidents.py): posted into the chats linked to an incident ---------

_INCIDENT_STATUS = {
    "ja": {"investigating": "調査中", "identified": "原因特定", "monitoring": "経過観察中", "resolved": "復旧"},
    "en": {"investigating": "Investigating", "identified": "Identified", "monitoring": "Monitoring",
           "resolved": "Resolved"},
}


def _eta(lang: str, eta: datetime | None) -> str:
    if eta is None:
        return "復旧見込み: 確認中" if lang == "ja" else "Expected recovery: not known yet"
    local = eta.astimezone(TOKYO)
    if lang == "ja":
        return f"復旧見込み: {local.month}月{local.day}日 {local:%H:%M}（日本時間）"
    return f"Expected recovery: {local:%d %b %H:%M} (Japan time)"


def incident_notice(locale: str | None, title: dict[str, str], update: dict[str, str] | None,
                    eta: datetime | None) -> str:
    """The answer a chat gets at once when opened in a category an open incident affects:
    the incident's title, its latest update (if any) and the ETA. `title` and `update` map
    ja/en to text."""
    lang = language(locale)
    lines = ([f"現在、次の障害が発生しています: {title[lang]}"] if lang == "ja" else
             [f"We are aware of an ongoing incident: {title[lang]}"])
    if update is not None:
        lines.append(update[lang])
    lines.append(_eta(lang, eta))
    lines.append("ご迷惑をおかけして申し訳ございません。オペレーターが順番に対応いたします。" if lang == "ja" else
                 "We are sorry for the trouble. An operator will answer in turn.")
    return "\n".join(lines)


def incident_update(locale: str | None, title: dict[str, str], status: str, body: dict[str, str],
                    eta: datetime | None) -> str:
    """An update of the incident a chat is linked to."""
    lang = language(locale)
    head = f"【{_INCIDENT_STATUS['ja'][status]}】{title['ja']}" if lang == "ja" else \
        f"[{_INCIDENT_STATUS['en'][status]}] {title['en']}"
    return "\n".join([head, body[lang], _eta(lang, eta)])


def incident_resolved(locale: str | None, title: dict[str, str], body: dict[str, str]) -> str:
    """The recovery message posted in every open linked chat when the incident is resolved."""
    lang = language(locale)
    if lang == "ja":
        return f"【復旧】{title['ja']}\n{body['ja']}\nご不便をおかけし、誠に申し訳ございませんでした。"
    return f"[Resolved] {title['en']}\n{body['en']}\nWe apologise for the inconvenience."


def incident_closed(locale: str | None) -> str:
    """The closing note of a linked chat that staff close after the incident was resolved."""
    if language(locale) == "ja":
        return ("障害は復旧しました。このチャットは終了しますが、まだお困りの場合はいつでも再開してください。")
    return "The incident is resolved, so we closed this chat. If anything is still wrong, reopen it any time."
