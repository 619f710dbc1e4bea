"""One JSON object per log line: time, level, logger, message, request id, and the exception
when there is one. Only what the code logs is written; the code never logs question text or
who asked (tests check that)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", ""),
        }
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        entry.update({k: v if isinstance(v, int | float | bool) else str(v)
                      for k, v in extras.items()})  # fmt: skip
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
