"""Liveness with a database round trip; no token needed (load balancers call it)."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from support_api import __version__
from support_api.lib.runtime import get_runtime

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> tuple[dict[str, str], int]:
    try:
        with get_runtime().db.read() as db:
            db.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return {"status": "degraded", "database": "unavailable", "version": __version__}, 503
    return {"status": "ok", "database": "ok", "version": __version__}, 200
