"""An ASGI application served by uvicorn on a loopback port, in a thread of the test process:
it shares the test's database, settings and signal receivers (what reached a prompt), which
a `kb_serve` process (tests/support/processes.py) does not."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from tests.support.ports import free_port

START_SECONDS = 30


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Yields the base URL once uvicorn is up, with the ASGI lifespan on as kb_serve runs it;
    shuts the server down (lifespan shutdown included) on exit."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-asgi", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start (its lifespan startup failed or timed out)")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_SECONDS)
