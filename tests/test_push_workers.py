"""Several push workers on one database: each outbox row goes out once, and the rows of a
worker that died mid-send go out after its lease. Both backends (PostgreSQL claims with
`FOR UPDATE SKIP LOCKED`, SQLite serialises write transactions)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from flask import Flask

from support_api.config import Settings
from support_api.lib.db import Database
from support_api.lib.push_sender import make_sender
from support_api.models import utcnow
from support_api.services.push_delivery import LEASE, _claim, deliver_due
from tests.fake_fcm import FakeFcm
from tests.pushutil import *  # noqa: F403 - fixtures
from tests.pushutil import Rounds, register, rows


def _replies(api: Any, user: str, operator: str, open_session: Any, count: int) -> tuple[str, list[str]]:
    chat = open_session()
    assert api.post(f"/sessions/{chat['id']}/claim", operator).status_code == 200
    ids = []
    for _ in range(count):
        response = api.post(f"/sessions/{chat['id']}/messages", operator,
                            json={"client_msg_id": uuid.uuid4().hex, "body": "reply"})
        assert response.status_code == 201
        ids.append(response.get_json()["id"])
    return chat["id"], ids


def test_two_workers_send_each_row_exactly_once(api: Any, app: Flask, settings: Settings, user: str, operator: str,
                                                open_session: Any, fcm: FakeFcm) -> None:
    tokens = [f"device-token-{n:04d}" for n in range(12)]
    for token in tokens:
        register(api, user, token, "android")
    _, message_ids = _replies(api, user, operator, open_session, 8)  # 96 rows
    presence = app.extensions["support_api"].presence
    fcm.latency = 0.002  # each send takes a moment, so the two workers' claims interleave
    claimed = {"a": 0, "b": 0}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(name: str) -> None:
        db, sender = Database(settings.database_url), make_sender(settings.push)
        try:
            start.wait()
            idle = 0
            while idle < 2:
                report = deliver_due(db, settings, sender, presence, limit=7)
                claimed[name] += report.claimed
                idle = idle + 1 if not report.claimed else 0
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            sender.close()
            db.dispose()

    threads = [threading.Thread(target=work, args=(name,)) for name in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not errors, errors
    pairs = [(send.target, send.data["message_id"]) for send in fcm.sends]
    assert len(pairs) == len(set(pairs)) == len(tokens) * len(message_ids)
    assert set(pairs) == {(token, message_id) for token in tokens for message_id in message_ids}
    assert claimed["a"] + claimed["b"] == len(pairs)
    assert claimed["a"] > 0 and claimed["b"] > 0, claimed
    assert {row.status for row in rows(app)} == {"sent"}


def test_the_rows_of_a_worker_that_died_go_out_after_its_lease(api: Any, app: Flask, user: str, operator: str,
                                                               open_session: Any, fcm: FakeFcm,
                                                               worker: Rounds) -> None:
    register(api, user, "device-token-lease")
    _replies(api, user, operator, open_session, 1)
    # A worker claims the row and dies before sending it.
    _, taken = _claim(app.extensions["support_api"].db, utcnow(), 50)
    assert len(taken) == 1

    assert worker.at(0).claimed == 0  # still leased to the dead worker
    assert worker.at(LEASE.total_seconds() / 2).claimed == 0
    report = worker.at(LEASE.total_seconds() + 1)

    assert report.sent == 1 and len(fcm.sends) == 1
    [row] = rows(app)
    assert (row.status, row.attempts) == ("sent", 2)
