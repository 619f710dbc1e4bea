"""Waiting for what another thread or process does (a worker indexing, a token revoked).

The caller asserts on the value returned, so a timeout fails on the test's own assertion and
shows what was last seen, not a generic "timed out"."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll_until(
    probe: Callable[[], T], until: Callable[[T], bool], *, timeout: float, every: float = 0.2
) -> T:
    """Calls `probe` every `every` seconds until what it returns satisfies `until`, and returns
    that value; once `timeout` seconds have passed, returns the last value anyway."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not until(value) and time.monotonic() < deadline:
        time.sleep(every)
        value = probe()
    return value
