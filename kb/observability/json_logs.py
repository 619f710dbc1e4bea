"""One JSON object per log line: time, level, logger, message, request id, and the exception
when there is one. Only what the code logs is written; the code never logs question text or
who asked (tests check that).

Whatever a library logs passes through `scrub_secrets` on the way out: a bearer token, one of
our API tokens or a `password=` parameter never reaches the log, whether it sits in a message,
an exception or an extra (Django's request logging, Celery's task failure data). A request in
an extra is written as method and path only: its query string may hold anything. A token of
ours met on the way is also queued for revocation (kb.observability.leaked_tokens).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from django.http import HttpRequest

from kb.observability.leaked_tokens import report_leaks
from kb.redaction import scrub_secrets

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _scrub(record.getMessage()),
            "request_id": getattr(record, "request_id", ""),
        }
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        entry.update({k: _extra(v) for k, v in extras.items()})
        if record.exc_info:
            entry["exception"] = _scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    """KB_LOG_FORMAT=plain: the same scrubbing for people reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return _scrub(super().format(record))


def _extra(value: object) -> object:
    if isinstance(value, int | float | bool):
        return value
    if isinstance(value, HttpRequest):
        return f"{value.method} {value.path}"
    return _scrub(str(value))


def _scrub(text: str) -> str:
    report_leaks(text)
    return scrub_secrets(text)
