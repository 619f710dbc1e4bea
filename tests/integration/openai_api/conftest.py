"""The official `openai` client against Quarry on a live server (pytest-django's, in this
process: the test company's rows and stores are the server's), one client per persona."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from openai import OpenAI
from pytest_django.live_server_helper import LiveServer

from kb.services.api_tokens import api_token_create
from tests.support.personas import IndexedWorld

Connect = Callable[[str], OpenAI]


@pytest.fixture
def connect(live_server: LiveServer, indexed_world: IndexedWorld) -> Connect:
    """A client whose API key is a fresh Quarry token of the persona ("anonymous": a key that
    is no token). No retries: the tests see every 429 themselves."""

    def connect(persona: str) -> OpenAI:
        user = indexed_world.world.users[persona]
        key = api_token_create(user=user)[1] if user.is_authenticated else "not-a-token"
        return OpenAI(base_url=f"{live_server.url}/v1", api_key=key, max_retries=0, timeout=60)

    return connect
