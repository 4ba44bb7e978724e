"""Liveness and readiness; no token needed (load balancers and orchestrators call them).

- `GET /v1/health` (liveness): the process answers and its database does.
- `GET /v1/health/ready` (readiness): the database and Redis (when configured) answer and the
  process is not draining (SIGTERM received, serving.drain): whether to send it traffic.
"""

from __future__ import annotations

from typing import Any

import redis
from flask import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from support_api import __version__
from support_api.lib.lifecycle import current_lifecycle
from support_api.lib.runtime import get_runtime

bp = Blueprint("health", __name__)

# A readiness probe must answer fast even when Redis is away: no waiting for it.
_REDIS_TIMEOUT_SECONDS = 1.0


@bp.get("/health")
def health() -> tuple[dict[str, str], int]:
    try:
        with get_runtime().db.read() as db:
            db.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return {"status": "degraded", "database": "unavailable", "version": __version__}, 503
    return {"status": "ok", "database": "ok", "version": __version__}, 200


def _database_ok() -> bool:
    try:
        with get_runtime().db.read() as db:
            db.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


def _redis_state() -> str:
    url = get_runtime().settings.redis_url
    if not url:
        return "not_configured"
    client = redis.Redis.from_url(url, socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
                                  socket_timeout=_REDIS_TIMEOUT_SECONDS)
    try:
        client.ping()
    except redis.RedisError:
        return "unavailable"
    finally:
        client.close()
    return "ok"


@bp.get("/health/ready")
def ready() -> tuple[dict[str, Any], int]:
    draining = current_lifecycle().draining
    state = {"database": "ok" if _database_ok() else "unavailable", "redis": _redis_state(),
             "draining": draining}
    if state["database"] != "ok" or state["redis"] == "unavailable" or draining:
        reason = "shutting down" if draining else "a dependency does not answer"
        return {"error": {"code": "not_ready", "message": f"Not ready: {reason}", "details": state}}, 503
    return {"status": "ready", **state, "version": __version__}, 200
