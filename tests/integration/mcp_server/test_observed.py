"""`/mcp` requests are followed like Django's: the proxy's request id is kept and echoed, and
each request gets one access line carrying it (method, path, status; no address or user)."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.support.personas import World
from tests.support.waiting import poll_until

pytestmark = [pytest.mark.integration]

REQUEST_ID = "proxy-id-0123456789"


def test_the_request_id_is_echoed_and_stamped_on_the_access_line(
    world: World, live_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="quarry.access")

    response = httpx.post(f"{live_url}/mcp", json={}, headers={"X-Request-ID": REQUEST_ID})

    assert response.status_code == 401  # no token: refused, and still followed
    assert response.headers["X-Request-ID"] == REQUEST_ID
    # written once the response has gone out: the client can read it first
    lines = poll_until(
        lambda: [r for r in caplog.records if r.name == "quarry.access"], bool, timeout=5
    )
    (line,) = lines
    assert line.getMessage() == "POST /mcp 401"
    assert line.request_id == REQUEST_ID  # type: ignore[attr-defined]  # the record factory's


def test_a_request_without_an_id_gets_a_new_one(world: World, live_url: str) -> None:
    first = httpx.post(f"{live_url}/mcp", json={})
    second = httpx.post(f"{live_url}/mcp", json={})

    assert len(first.headers["X-Request-ID"]) == 32
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
