"""Supervisors' metrics, `GET /v1/admin/stats` (issue 6): exact figures against values worked
out by hand below, window boundaries, defaults, roles and bad parameters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from support_api.models import ChatSession
from support_api.services.stats import percentile
from tests.conftest import Api

# The window of the main test: one UTC day, [T0, T0 + 1 day).
T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
DAY = 86400
SINCE, UNTIL = "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"
CATEGORIES = ["trading", "account", "funds", "system_error", "security", "other"]

# (category, created, first_assigned, first_response, closed, rated, score): seconds after T0,
# None for "never". Chosen so each boundary and rule shows in the expected figures below.
CHATS: dict[str, tuple[str, float, float | None, float | None, float | None, float | None, int | None]] = {
    "f1": ("funds", 3600, 3660, 3690, 4200, 4300, 5),        # wait 60, response 90, resolution 600
    "f2": ("funds", 7200, 7320, 7400, 8400, 8500, 4),        # 120, 200, 1200
    "f3": ("funds", 10800, 10830, 10845, 11100, 11200, 2),   # 30, 45, 300
    "f4": ("funds", 14400, 15000, None, None, None, None),   # 600, no reply yet, open
    "f5": ("funds", 18000, None, None, None, None, None),    # still waiting: opened, no wait
    # Created exactly at `since`: inside (the window includes its start).
    "t1": ("trading", 0, 10, 20, 100, 200, 3),               # 10, 20, 100
    # Opened the day before: closed and rated inside, so it counts there only (resolution 5400).
    "t2": ("trading", -3600, -3540, -3500, 1800, 2400, 1),
    # Opened inside, first answered after the window (still its response time, 3610), closed
    # exactly at `until`: not closed in this window (the window excludes its end).
    "t3": ("trading", 82800, 82840, DAY + 10, DAY, None, None),  # wait 40
    # Created exactly at `until`: outside, whatever happened next.
    "t4": ("trading", DAY, DAY + 60, DAY + 70, DAY + 100, DAY + 200, 5),
    "x1": ("security", 43200, 43207.25, None, None, None, None),  # wait 7.25
    # Taken "2 s before it was created" (clocks of two servers apart): a wait of 0.
    "x2": ("security", 50400, 50398, None, None, None, None),
    # Everything a second or more before the window: counts nowhere.
    "a1": ("account", -DAY, -DAY + 100, -DAY + 200, -1, -1, 5),
}


def _none() -> dict[str, Any]:
    return {"p50": None, "p90": None, "average": None, "count": 0}


def _metrics(opened: int = 0, closed: int = 0, wait: dict[str, Any] | None = None,
             first_response: dict[str, Any] | None = None, resolution: dict[str, Any] | None = None,
             rating: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"sessions_opened": opened, "sessions_closed": closed, "wait_seconds": wait or _none(),
            "first_response_seconds": first_response or _none(), "resolution_seconds": resolution or _none(),
            "rating": rating or {"average": None, "count": 0}}


# Worked out by hand with h = (n - 1) × p, x[⌊h⌋] + (h - ⌊h⌋) × (x[⌊h⌋+1] - x[⌊h⌋]).
FUNDS = _metrics(
    opened=5, closed=3,
    # [30, 60, 120, 600]: p50 h=1.5 → 60 + .5×60; p90 h=2.7 → 120 + .7×480; mean 810/4
    wait={"p50": 90.0, "p90": 456.0, "average": 202.5, "count": 4},
    # [45, 90, 200]: p50 = 90; p90 h=1.8 → 90 + .8×110; mean 335/3
    first_response={"p50": 90.0, "p90": 178.0, "average": 111.667, "count": 3},
    # [300, 600, 1200]: p90 h=1.8 → 600 + .8×600; mean 2100/3
    resolution={"p50": 600.0, "p90": 1080.0, "average": 700.0, "count": 3},
    rating={"average": 3.67, "count": 3},  # (5 + 4 + 2) / 3
)
TRADING = _metrics(
    opened=2, closed=2,  # opened t1 t3; closed t1 t2
    wait={"p50": 25.0, "p90": 37.0, "average": 25.0, "count": 2},  # [10, 40]: p90 10 + .9×30
    first_response={"p50": 1815.0, "p90": 3251.0, "average": 1815.0, "count": 2},  # [20, 3610]
    resolution={"p50": 2750.0, "p90": 4870.0, "average": 2750.0, "count": 2},  # [100, 5400]
    rating={"average": 2.0, "count": 2},  # (3 + 1) / 2
)
SECURITY = _metrics(opened=2, wait={"p50": 3.625, "p90": 6.525, "average": 3.625, "count": 2})  # [0, 7.25]
TOTALS = _metrics(
    opened=9, closed=5,
    # [0, 7.25, 10, 30, 40, 60, 120, 600]: p50 h=3.5 → 35; p90 h=6.3 → 120 + .3×480; mean 867.25/8
    wait={"p50": 35.0, "p90": 264.0, "average": 108.406, "count": 8},
    # [20, 45, 90, 200, 3610]: p50 = 90; p90 h=3.6 → 200 + .6×3410; mean 3965/5
    first_response={"p50": 90.0, "p90": 2246.0, "average": 793.0, "count": 5},
    # [100, 300, 600, 1200, 5400]: p90 h=3.6 → 1200 + .6×4200; mean 7600/5
    resolution={"p50": 600.0, "p90": 3720.0, "average": 1520.0, "count": 5},
    rating={"average": 3.0, "count": 5},  # (5 + 4 + 2 + 3 + 1) / 5
)


def _at(seconds: float | None) -> datetime | None:
    return None if seconds is None else T0 + timedelta(seconds=seconds)


def _build(api: Api, app: Flask) -> dict[str, str]:
    """Each chat of CHATS through the real API (open; claim, reply, close as its row says),
    then its timestamps set to the hand-chosen values."""
    operator = api.token("op-stats", "operator", name="Sato")  # no departments: all
    users = {category: api.token(f"user-{category}", name="U", locale="en") for category in CATEGORIES}
    ids: dict[str, str] = {}
    for key, (category, _created, assigned, responded, closed, _rated, _score) in CHATS.items():
        opened = api.post("/sessions", users[category], json={"category": category})
        assert opened.status_code == 201, opened.get_json()
        sid = ids[key] = opened.get_json()["id"]
        if assigned is not None:
            assert api.post(f"/sessions/{sid}/claim", operator).status_code == 200
        if responded is not None:
            reply = api.post(f"/sessions/{sid}/messages", operator, json={"client_msg_id": key, "body": "On it."})
            assert reply.status_code == 201, reply.get_json()
        if closed is not None:
            assert api.post(f"/sessions/{sid}/close", operator).status_code == 200
    with app.extensions["support_api"].db.write() as db:
        for key, (_category, created, assigned, responded, closed, rated, score) in CHATS.items():
            db.execute(update(ChatSession).where(ChatSession.id == ids[key]).values(
                created_at=_at(created), first_assigned_at=_at(assigned), first_response_at=_at(responded),
                closed_at=_at(closed), rated_at=_at(rated), rating_score=score))
    return ids


def _stats(api: Api, token: str, query: str) -> dict[str, Any]:
    response = api.get(f"/admin/stats?{query}", token)
    assert response.status_code == 200, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def test_stats_equal_the_hand_computed_figures(api: Api, app: Flask) -> None:
    _build(api, app)
    admin = api.token("admin-1", "admin", name="Boss")

    data = _stats(api, admin, f"since={SINCE}&until={UNTIL}")
    assert (data["since"], data["until"]) == ("2026-03-02T00:00:00.000Z", "2026-03-03T00:00:00.000Z")
    assert data["totals"] == TOTALS
    assert [d["department"] for d in data["departments"]] == CATEGORIES
    by_department = {d.pop("department"): d for d in data["departments"]}
    assert by_department == {"trading": TRADING, "account": _metrics(), "funds": FUNDS,
                             "system_error": _metrics(), "security": SECURITY, "other": _metrics()}

    # One department: its figures are the totals, and it is the only entry.
    only = _stats(api, admin, f"since={SINCE}&until={UNTIL}&department=trading")
    assert only["totals"] == TRADING
    assert only["departments"] == [{"department": "trading", **TRADING}]

    # The same instants written with an offset select the same window.
    tokyo = _stats(api, admin, "since=2026-03-02T09:00:00%2B09:00&until=2026-03-03T09:00:00%2B09:00")
    assert tokyo["since"] == "2026-03-02T00:00:00.000Z" and tokyo["totals"] == TOTALS

    # One millisecond later at both ends: t1's opening (at T0) drops out; t4's opening and t3's
    # close (both at T0 + 1 day) come in.
    shifted = _stats(api, admin, "since=2026-03-02T00:00:00.001Z&until=2026-03-03T00:00:00.001Z")
    trading = next(d for d in shifted["departments"] if d["department"] == "trading")
    assert trading == {"department": "trading", **_metrics(
        opened=2, closed=3,  # opened t3 t4; closed t1 t2 t3
        wait={"p50": 50.0, "p90": 58.0, "average": 50.0, "count": 2},  # [40, 60]
        first_response={"p50": 1840.0, "p90": 3256.0, "average": 1840.0, "count": 2},  # [70, 3610]
        # [100, 3600, 5400]: p90 h=1.8 → 3600 + .8×1800; mean 9100/3
        resolution={"p50": 3600.0, "p90": 5040.0, "average": 3033.333, "count": 3},
        rating={"average": 2.0, "count": 2})}

    trail = api.get("/admin/audit?action=admin.stats_read", admin).get_json()["items"]
    assert len(trail) == 4 and trail[-1]["actor"] == {"type": "operator", "id": "admin-1", "role": "admin"}
    assert trail[-1]["details"] == {"since": "2026-03-02T00:00:00+00:00", "until": "2026-03-03T00:00:00+00:00",
                                    "department": None}


def test_a_window_without_activity_answers_zeros_and_nulls(api: Api, app: Flask) -> None:
    _build(api, app)
    admin = api.token("admin-1", "admin")
    data = _stats(api, admin, "since=2026-02-01T00:00:00Z&until=2026-02-08T00:00:00Z")
    assert data["totals"] == _metrics()
    assert data["departments"] == [{"department": c, **_metrics()} for c in CATEGORIES]


def test_the_window_defaults_to_the_24_hours_before_until(api: Api, open_session: Callable[..., Any]) -> None:
    admin = api.token("admin-1", "admin")
    open_session("funds")  # created just now
    data = _stats(api, admin, "")
    since, until = (datetime.fromisoformat(data[k].replace("Z", "+00:00")) for k in ("since", "until"))
    generated = datetime.fromisoformat(data["generated_at"].replace("Z", "+00:00"))
    assert until - since == timedelta(hours=24) and until <= generated < until + timedelta(seconds=30)
    assert data["totals"]["sessions_opened"] == 1 and data["totals"]["wait_seconds"]["count"] == 0

    earlier = _stats(api, admin, "until=2026-03-03T12:00:00.123456Z")  # cut to the millisecond
    assert (earlier["since"], earlier["until"]) == ("2026-03-02T12:00:00.123Z", "2026-03-03T12:00:00.123Z")
    assert earlier["totals"]["sessions_opened"] == 0


def test_only_admins_read_the_stats(api: Api, user: str, operator: str) -> None:
    for token, role in ((user, "user"), (operator, "operator")):
        refused = api.get("/admin/stats", token)
        assert refused.status_code == 403
        assert refused.get_json()["error"]["details"] == {"role": role, "allowed": ["admin"]}
    assert api.get("/admin/stats").status_code == 401


@pytest.mark.parametrize(("query", "field"), [
    ("since=2026-03-03T00:00:00Z&until=2026-03-02T00:00:00Z", "since"),  # since after until
    ("since=2026-03-02T00:00:00Z&until=2026-03-02T00:00:00Z", "since"),  # empty window
    ("since=2026-03-02T00:00:00Z&until=2026-03-02T00:00:00.0004Z", "since"),  # empty once cut to ms
    ("since=2025-03-01T00:00:00Z&until=2026-03-02T00:00:00.001Z", "since"),  # 366 days and 1 ms
    ("since=2999-01-01T00:00:00Z", "since"),  # in the future, until defaults to now
    ("until=0001-01-01T00:00:00Z", "until"),  # no 24 hours before it
    ("since=2026-03-02T00:00:00", "since"),  # no offset
    ("since=yesterday", "since"),
    ("until=2026-02-30T00:00:00Z", "until"),
    ("department=sales", "department"),
    ("since=2026-03-02T00:00:00Z&since=2026-03-01T00:00:00Z", "since"),  # repeated
    ("limit=5", "limit"),  # unknown parameter
])
def test_bad_windows_and_parameters_are_422(api: Api, query: str, field: str) -> None:
    response = api.get(f"/admin/stats?{query}", api.token("admin-1", "admin"))
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["details"]["fields"]


def test_exactly_366_days_is_allowed(api: Api) -> None:
    data = _stats(api, api.token("admin-1", "admin"), "since=2025-03-01T00:00:00Z&until=2026-03-02T00:00:00Z")
    assert data["totals"]["sessions_opened"] == 0


@pytest.mark.parametrize(("values", "p50", "p90"), [
    ([42.0], 42.0, 42.0),  # one value is its own percentiles
    ([1.0, 2.0], 1.5, 1.9),
    ([float(v) for v in range(11)], 5.0, 9.0),  # h = 9 exactly: x[9], no interpolation
    ([5.0, 1.0, 3.0, 2.0, 4.0], 3.0, 4.6),  # h = 3.6 → 4 + .6 × (5 - 4)
])
def test_percentile_is_linear_between_closest_ranks(values: list[float], p50: float, p90: float) -> None:
    ordered = sorted(values)
    assert (percentile(ordered, 50), round(percentile(ordered, 90), 9)) == (p50, p90)
