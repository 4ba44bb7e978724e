"""Localised text of a plain-text transcript (ja, en): pure functions, no models.

Every time is written in UTC (`2026-11-25 01:02:03`) and the header says so once: a
transcript is read later, by the user or by staff anywhere, and must mean one instant.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from support_api.lib.categories import category_label

LANGUAGES = ("ja", "en")

_STATUS = {
    "ja": {"waiting": "対応待ち", "active": "対応中", "closed": "終了", "bot": "自動応答中"},
    "en": {"waiting": "Waiting", "active": "Active", "closed": "Closed", "bot": "With the bot"},
}

_SENDER = {
    "ja": {"user": "ユーザー", "operator": "オペレーター", "system": "システム", "bot": "ボット"},
    "en": {"user": "User", "operator": "Operator", "system": "System", "bot": "Bot"},
}

_TEXT = {
    "ja": {
        "title": "サポートチャット記録",
        "session": "セッションID",
        "category": "カテゴリ",
        "department": "担当部署",
        "status": "状態",
        "user": "ユーザー",
        "operator": "担当オペレーター",
        "unassigned": "未割り当て",
        "opened": "開始日時",
        "closed": "終了日時",
        "not_closed": "未終了",
        "generated": "出力日時",
        "time_zone": "時刻はすべて協定世界時（UTC）です。",
        "with_notes": "社内メモを含みます（社外秘：お客様に渡さないでください）。",
        "note": "[社内メモ]",
        "attachment": "[添付]",
        "bytes": "バイト",
        "empty": "（メッセージはありません）",
        "truncated": "（長いため先頭の {shown} 件のみを記載しています）",
    },
    "en": {
        "title": "Support chat transcript",
        "session": "Session ID",
        "category": "Category",
        "department": "Department",
        "status": "Status",
        "user": "User",
        "operator": "Operator",
        "unassigned": "not assigned",
        "opened": "Opened",
        "closed": "Closed",
        "not_closed": "not closed",
        "generated": "Generated",
        "time_zone": "All times are in UTC.",
        "with_notes": "Includes internal notes (staff only: do not give this to the customer).",
        "note": "[Internal note]",
        "attachment": "[Attachment]",
        "bytes": "bytes",
        "empty": "(No messages)",
        "truncated": "(Too long: only the first {shown} entries are listed.)",
    },
}

RULE = "-" * 40
# Lines of a body after its first are indented, so every line that starts at the margin with
# "[" begins an entry: a body cannot pass off a line of its own as another sender's message.
_CONTINUATION = "    "


def _primary(locale: str) -> str:
    return locale.strip().lower().replace("_", "-").split("-")[0]


def choose_language(*candidates: str | None) -> str:
    """The first candidate naming Japanese or English (`ja`, `ja-JP`, `en_US`…), else `en`.

    Candidates in other languages (a `fr` token locale) are skipped rather than read as
    English, so a later candidate (the browser's Accept-Language) can still choose Japanese.
    """
    for candidate in candidates:
        if candidate and _primary(candidate) in LANGUAGES:
            return _primary(candidate)
    return "en"


def timestamp(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def header(lang: str, *, session_id: str, category: str, department: str | None, status: str,
           user_id: str, user_name: str | None, operator_id: str | None, operator_name: str | None,
           opened_at: datetime, closed_at: datetime | None, generated_at: datetime,
           with_notes: bool) -> list[str]:
    """The lines above the conversation. `department` is shown when given (staff transcripts)."""
    text = _TEXT[lang]
    user = f"{user_name} ({user_id})" if user_name else user_id
    operator = text["unassigned"]
    if operator_id:
        operator = f"{operator_name} ({operator_id})" if operator_name else operator_id
    lines = [
        text["title"],
        RULE,
        f"{text['session']}: {session_id}",
        f"{text['category']}: {category_label(lang, category)}",
    ]
    if department is not None:
        lines.append(f"{text['department']}: {category_label(lang, department)}")
    lines += [
        f"{text['status']}: {_STATUS[lang].get(status, status)}",
        f"{text['user']}: {user}",
        f"{text['operator']}: {operator}",
        f"{text['opened']}: {timestamp(opened_at)} UTC",
        f"{text['closed']}: {timestamp(closed_at) + ' UTC' if closed_at else text['not_closed']}",
        f"{text['generated']}: {timestamp(generated_at)} UTC",
        text["time_zone"],
    ]
    if with_notes:
        lines.append(text["with_notes"])
    lines.append(RULE)
    return lines


def sender_label(lang: str, sender_type: str, name: str | None) -> str:
    """`ユーザー`, `オペレーター Sato`, `システム`; `User`, `Operator Sato`, `System`."""
    label = _SENDER[lang].get(sender_type, sender_type)
    return f"{label} {name}" if sender_type == "operator" and name else label


def entry(lang: str, *, at: datetime, sender_type: str, sender_name: str | None, body: str,
          internal: bool = False) -> list[str]:
    """One message (or, marked, one internal note): `[time] label: first line`, then the rest indented."""
    first, *rest = body.split("\n")
    mark = f"{_TEXT[lang]['note']} " if internal else ""
    head = f"[{timestamp(at)}] {mark}{sender_label(lang, sender_type, sender_name)}:"
    return [f"{head} {first}" if first else head] + [f"{_CONTINUATION}{line}" for line in rest]


def attachment(lang: str, *, attachment_id: str, content_type: str, width: int, height: int, size: int) -> str:
    """An attachment under its message. No URL: signed links expire long before a transcript does."""
    text = _TEXT[lang]
    return f"  {text['attachment']} {content_type} {width}x{height} {size:,} {text['bytes']} {attachment_id}"


def empty(lang: str) -> str:
    return _TEXT[lang]["empty"]


def truncated(lang: str, shown: int) -> str:
    return _TEXT[lang]["truncated"].format(shown=shown)


def document(lines: Iterable[str]) -> str:
    return "\n".join(lines) + "\n"
