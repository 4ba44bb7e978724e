"""Supervisors' metrics, for admins: sessions, waits, first responses, resolutions, ratings."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from support_api.api.common import current_principal, query_args
from support_api.lib.runtime import get_runtime
from support_api.schemas.requests import StatsQuery
from support_api.schemas.responses import dump_stats
from support_api.services import stats

bp = Blueprint("stats", __name__)

_query = StatsQuery()


@bp.get("/admin/stats")
def supervisor_stats() -> dict[str, Any]:
    principal = current_principal()
    args = query_args(_query)
    return dump_stats(stats.compute(get_runtime(), principal, since=args["since"], until=args["until"],
                                    department=args.get("department")))
