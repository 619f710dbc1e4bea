"""Quarry's whole ASGI application (kb.asgi: Django with `/mcp` beside it) served live by
uvicorn, with the lifespan on as kb_serve runs it, for the official MCP client to call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.live_asgi import serving
from tests.support.personas import World, build_world


@pytest.fixture(scope="session")
def live_url() -> Iterator[str]:
    """One server for the session: an MCP session manager runs once per application, and
    the application is kb.asgi's own. Each test's database and settings are the server's."""
    from kb.asgi import application

    with serving(application) as url:
        yield url


@pytest.fixture
def world(transactional_db: None) -> World:
    """The persona company, committed: the server answers from its own threads and
    connections, which see nothing of a test's open transaction."""
    return build_world()
