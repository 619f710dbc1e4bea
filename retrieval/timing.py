"""Stage latencies for the query log, in milliseconds."""

from __future__ import annotations

import time


def ms_since(started: float) -> float:
    """Milliseconds since `started`, a `time.perf_counter()` reading."""
    return round((time.perf_counter() - started) * 1000, 2)
