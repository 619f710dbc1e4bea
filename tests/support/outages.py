"""Store outages for tests: one call of a real store fails as an unreachable one would."""

from __future__ import annotations

from typing import Any

import pytest

from kb.stores.errors import StoreError


def fail_once(monkeypatch: pytest.MonkeyPatch, store: object, method: str) -> list[str]:
    """`store.method` raises StoreError on its first call, then works again. Returns the calls
    that failed, so a test can check the outage hit what it meant to hit."""
    real = getattr(store, method)
    failed: list[str] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if not failed:
            failed.append(method)
            raise StoreError(f"{method}: connection refused")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, method, flaky)
    return failed
