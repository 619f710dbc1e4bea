"""Tokens of ours that a log line was about to print are revoked (issue 11: "a token found in
any log is revoked automatically and its owner told on their next request").

The formatters scrub the token from the line; here it waits to be revoked off the logging
path: a formatter may run inside a transaction that rolls back, inside the database layer
itself, or before the apps are loaded, so it never writes. A daemon thread per process (one
per prefork child too: threads do not survive a fork) drains the queue through
`kb.services.api_tokens.api_tokens_revoke_leaked`, retrying while the database is unreachable.
That service sits above this module (logging serves every layer), so kb.apps hands it over
at start-up (`revoke_with`) instead of this module importing it.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from typing import Protocol

from kb.redaction import leaked_tokens

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5.0

_pending: set[str] = set()
_lock = threading.Lock()
_wake = threading.Event()
_drainer_pid: int | None = None


class Revoker(Protocol):
    def __call__(self, *, texts: Sequence[str]) -> int: ...


_revoker: Revoker | None = None


def revoke_with(revoker: Revoker) -> None:
    """Called once by kb.apps when the apps are ready."""
    global _revoker
    _revoker = revoker


def report_leaks(text: str) -> None:
    """Queue every token of our format in `text` for revocation; cheap when there is none."""
    tokens = leaked_tokens(text)
    if tokens:
        _enqueue(tokens)


def drain() -> int:
    """Revoke what is queued now; returns how many live tokens went. What cannot be revoked
    yet (apps not loaded, database down) stays queued."""
    with _lock:
        tokens = sorted(_pending)
        _pending.clear()
    if not tokens:
        return 0
    try:
        return _revoke(tokens)
    except Exception:  # the database may be down: keep the tokens for a retry
        _enqueue_quietly(tokens)
        logger.warning("could not revoke %d leaked token(s) yet; will retry", len(tokens))
        return 0


def _revoke(tokens: list[str]) -> int:
    from django.db import connections

    if _revoker is None:  # set by kb.apps once the apps are ready
        raise RuntimeError("apps not loaded yet")
    try:
        return _revoker(texts=tokens)
    finally:
        if threading.current_thread() is not threading.main_thread():
            connections.close_all()  # this thread's own connections only


def _enqueue(tokens: Iterable[str]) -> None:
    _enqueue_quietly(tokens)
    _ensure_drainer()
    _wake.set()


def _enqueue_quietly(tokens: Iterable[str]) -> None:
    with _lock:
        _pending.update(tokens)


def _ensure_drainer() -> None:
    global _drainer_pid
    with _lock:
        if _drainer_pid == os.getpid():
            return
        _drainer_pid = os.getpid()
    threading.Thread(target=_drain_forever, name="kb-leaked-tokens", daemon=True).start()


def _drain_forever() -> None:
    while True:
        _wake.wait(timeout=RETRY_SECONDS)
        _wake.clear()
        drain()


atexit.register(drain)
