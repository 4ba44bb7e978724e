"""Structured logs: one JSON object per line, with the request id of whatever is being served.

What never goes into a log: message bodies, tokens, attachment bytes, signed URL queries.
Code logs ids and outcomes only; this module adds the request context.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from support_api.lib.request_context import current_meta


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        meta = current_meta()
        record.request_id = meta.request_id
        record.client_ip = meta.client_ip
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(
        "{asctime}{levelname}{name}{message}{request_id}{client_ip}", style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    ))
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library chatter at INFO (engine.io packets, alembic plugins) is noise, not operations.
    for noisy in ("engineio", "socketio", "alembic.runtime.plugins", "werkzeug", "botocore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
