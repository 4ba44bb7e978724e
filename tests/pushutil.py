"""Fixtures and helpers of the push tests: the fake FCM server, app settings that point the
real firebase-admin at it, and a push worker the test drives round by round (with `now`
stepped forward instead of sleeping through delays and backoff).

Import the fixtures into a test module with `from tests.pushutil import *` (see __all__).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from support_api.config import Settings
from support_api.lib.push_sender import make_sender
from support_api.lib.runtime import Runtime
from support_api.models import Device, PushOutbox, utcnow
from support_api.push_worker import PushWorker
from support_api.services.push_delivery import DeliveryReport
from tests.fake_fcm import PROJECT_ID, FakeFcm

__all__ = ["PROJECT_ID", "Rounds", "devices", "fake_fcm_server", "fcm", "push_settings", "register", "rows",
           "settings", "worker"]


@pytest.fixture(scope="session")
def fake_fcm_server() -> Iterator[FakeFcm]:
    server = FakeFcm()
    yield server
    server.close()


@pytest.fixture
def fcm(fake_fcm_server: FakeFcm) -> FakeFcm:
    fake_fcm_server.reset()
    return fake_fcm_server


def push_settings(base: Settings, fcm: FakeFcm, tmp_path: Path, **push: Any) -> Settings:
    """`base`, sending through firebase-admin to the fake FCM server, with `push` overrides."""
    credentials = fcm.service_account(tmp_path / "service-account.json")
    return base.with_overrides(push=replace(base.push, backend="fcm", fcm_credentials=credentials,
                                            fcm_endpoint=fcm.url, **push))


@pytest.fixture
def settings(settings: Settings, fcm: FakeFcm, tmp_path: Path) -> Settings:
    """The conftest settings with the FCM backend pointed at the fake server."""
    return push_settings(settings, fcm, tmp_path)


class Rounds:
    """A push worker of the app under test, run one round at a time at chosen times."""

    def __init__(self, app: Flask) -> None:
        self.rt: Runtime = app.extensions["support_api"]
        self.worker = PushWorker(self.rt.settings, self.rt.db, make_sender(self.rt.settings.push), self.rt.presence)
        self.start: datetime | None = None

    def time(self, seconds: float) -> datetime:
        """The test's clock: `seconds` after its first round."""
        if self.start is None:
            self.start = utcnow()
        return self.start + timedelta(seconds=seconds)

    def at(self, seconds: float) -> DeliveryReport:
        """One round at `seconds` on the test's clock (0: the first round, now)."""
        return self.worker.run_once(now=self.time(seconds))

    def drain(self, seconds: float | None = None) -> DeliveryReport:
        """Rounds until nothing is claimed, now (or at `seconds` on the test's clock); the sums
        of their reports."""
        total = DeliveryReport()
        while True:
            report = self.worker.run_once(now=utcnow() if seconds is None else self.time(seconds))
            if not report.claimed:
                return total
            for field in ("claimed", "sent", "skipped", "retried", "failed"):
                setattr(total, field, getattr(total, field) + getattr(report, field))

    def close(self) -> None:
        self.worker.sender.close()


@pytest.fixture
def worker(app: Flask) -> Iterator[Rounds]:
    rounds = Rounds(app)
    yield rounds
    rounds.close()


def rows(app: Flask, **where: Any) -> list[PushOutbox]:
    """Outbox rows matching column == value filters, oldest first."""
    rt: Runtime = app.extensions["support_api"]
    with rt.db.read() as db:
        query = select(PushOutbox).order_by(PushOutbox.created_at, PushOutbox.id)
        for column, value in where.items():
            query = query.where(getattr(PushOutbox, column) == value)
        return list(db.execute(query).scalars())


def devices(app: Flask) -> list[Device]:
    rt: Runtime = app.extensions["support_api"]
    with rt.db.read() as db:
        return list(db.execute(select(Device).order_by(Device.created_at)).scalars())


def register(api: Any, token: str, device_token: str, platform: str = "ios", locale: str | None = "ja",
             expect: int = 201, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"token": device_token, "platform": platform, **extra}
    if locale is not None:
        body["locale"] = locale
    response = api.request("PUT", "/devices", token, json=body)
    assert response.status_code == expect, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data
