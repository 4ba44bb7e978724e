"""The per-app objects services need: settings, database, events, tokens, storage, URL signing."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from support_api.config import Settings
from support_api.lib.auth import TokenVerifier
from support_api.lib.db import Database
from support_api.lib.events import Events
from support_api.lib.presence import Presence
from support_api.lib.ratelimit import RateLimits
from support_api.lib.signing import UrlSigner
from support_api.lib.storage import Storage


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    events: Events
    verifier: TokenVerifier
    storage: Storage
    signer: UrlSigner
    presence: Presence
    limits: RateLimits


def get_runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["support_api"]
    return runtime
