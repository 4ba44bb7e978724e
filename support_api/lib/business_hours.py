"""Business hours per department, in Asia/Tokyo (stdlib only: config.py parses them).

`SUPPORT_API_BUSINESS_HOURS` is a comma-separated list of `department=[days@]HH:MM-HH:MM`:
- `department` is a category code, or `*` for every department not named otherwise;
- `days` (optional, default every day) is `mon`…`sun`, a range `mon-fri`, or several joined
  with `+` (`mon-fri+sat`);
- the window runs from the first time (inclusive) to the second (exclusive); `24:00` is the
  end of the day, and a window never crosses midnight (write two entries instead).
A department may be named several times (`funds=mon-fri@09:00-18:00,funds=sat@10:00-15:00`).
A department with no entry (and no `*`) is served around the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ENTRY = re.compile(r"^(?P<dept>[a-z_*]+)=(?:(?P<days>[a-z+\-]+)@)?(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})$")


class HoursError(ValueError):
    pass


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # Monday is 0
    start: int  # minutes after midnight, Tokyo time
    end: int


Hours = dict[str, tuple[Window, ...]]


def _minutes(text: str) -> int:
    hours, minutes = int(text[:2]), int(text[3:])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise HoursError(f"{text!r} is not a time of day")
    return hours * 60 + minutes


def _days(text: str | None) -> frozenset[int]:
    if not text:
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split("+"):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise HoursError(f"{part!r} is not a day or a range of days (mon…sun)")
        a, b = DAYS.index(first), DAYS.index(last or first)
        if b < a:
            raise HoursError(f"{part!r}: a range of days runs forward (mon-fri)")
        days.update(range(a, b + 1))
    return frozenset(days)


def parse(raw: str) -> Hours:
    windows: dict[str, list[Window]] = {}
    for entry in (part.strip().lower() for part in raw.split(",")):
        if not entry:
            continue
        match = _ENTRY.match(entry)
        if not match:
            raise HoursError(f"{entry!r} is not department=[days@]HH:MM-HH:MM")
        start, end = _minutes(match["start"]), _minutes(match["end"])
        if end <= start:
            raise HoursError(f"{entry!r}: the window must end after it starts (split windows crossing midnight)")
        windows.setdefault(match["dept"], []).append(Window(_days(match["days"]), start, end))
    return {dept: tuple(items) for dept, items in windows.items()}


def windows_of(hours: Hours, department: str) -> tuple[Window, ...] | None:
    """The department's windows; None when it is served around the clock."""
    return hours.get(department) or hours.get("*")


def is_open(hours: Hours, department: str, now: datetime) -> bool:
    windows = windows_of(hours, department)
    if windows is None:
        return True
    local = now.astimezone(TOKYO)
    minute = local.hour * 60 + local.minute
    return any(local.weekday() in w.days and w.start <= minute < w.end for w in windows)


def next_opening(hours: Hours, department: str, now: datetime) -> datetime | None:
    """When the department next opens (aware, Tokyo time), if it is closed now; None if open
    or never open."""
    windows = windows_of(hours, department)
    if windows is None or is_open(hours, department, now):
        return None
    local = now.astimezone(TOKYO)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    candidates = []
    for offset in range(8):
        day = midnight + timedelta(days=offset)
        for window in windows:
            if day.weekday() in window.days:
                opening = day + timedelta(minutes=window.start)
                if opening > local:
                    candidates.append(opening)
    return min(candidates) if candidates else None
