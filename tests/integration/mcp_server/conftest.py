"""The persona company for the MCP tests; the live server they call is `live_url`
(tests/integration/conftest.py)."""

from __future__ import annotations

import pytest

from tests.support.personas import World, build_world


@pytest.fixture
def world(transactional_db: None) -> World:
    """The persona company, committed: the server answers from its own threads and
    connections, which see nothing of a test's open transaction."""
    return build_world()
