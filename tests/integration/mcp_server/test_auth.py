"""`/mcp` takes the caller's Quarry API token and nothing else, and refuses with the REST API's
own words: no token, a forged, revoked or deactivated user's token (one message for all) and a
leaked one (told why), each a 401 with a Bearer challenge before any MCP message is read."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from rest_framework.test import APIClient

from kb.models import TokenRevokedReason
from kb.services.api_tokens import api_token_create, api_token_revoke
from tests.support.mcp_client import call_tool, raised_messages, structured
from tests.support.personas import World

pytestmark = [pytest.mark.integration]

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}


def _post(base_url: str, headers: dict[str, str]) -> httpx.Response:
    """An MCP initialize request as any client sends it, with `headers` added."""
    accept = {"Accept": "application/json, text/event-stream"}
    return httpx.post(f"{base_url}/mcp", json=INITIALIZE, headers={**accept, **headers})


def _rest_error(authorization: str) -> Any:
    """The REST API's answer to the same Authorization header."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=authorization)
    response = client.get("/api/v1/collections")
    assert response.status_code == 401
    return response.json()


def _token(world: World, persona: str, revoked: TokenRevokedReason | None = None) -> str:
    row, token = api_token_create(user=world.users[persona])
    if revoked is not None:
        api_token_revoke(token=row, reason=revoked)
    return token


def test_a_live_token_opens_a_session(world: World, live_url: str) -> None:
    response = _post(live_url, {"Authorization": f"Bearer {_token(world, 'engineer')}"})

    assert response.status_code == 200
    assert response.json()["result"]["serverInfo"]["name"] == "Quarry"


def test_no_token_is_a_401_with_a_bearer_challenge(world: World, live_url: str) -> None:
    response = _post(live_url, {})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="mcp"'
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("kind", ["forged", "revoked", "deactivated user's", "malformed"])
def test_a_token_that_is_not_live_gets_the_apis_401(world: World, live_url: str, kind: str) -> None:
    authorization = {
        "forged": "Bearer qry_forged",
        "revoked": f"Bearer {_token(world, 'engineer', TokenRevokedReason.OWNER)}",
        "deactivated user's": f"Bearer {_token(world, 'deactivated_hr')}",
        "malformed": "Bearer two words",
    }[kind]

    response = _post(live_url, {"Authorization": authorization})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="mcp", error="invalid_token"'
    assert response.json() == _rest_error(authorization)


def test_forged_revoked_and_deactivated_tokens_read_the_same(world: World, live_url: str) -> None:
    tokens = [
        "qry_forged",
        _token(world, "engineer", TokenRevokedReason.OWNER),
        _token(world, "deactivated_hr"),
    ]

    bodies = [_post(live_url, {"Authorization": f"Bearer {t}"}).json() for t in tokens]

    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["error"]["message"] == "Invalid or revoked token."


def test_a_leaked_token_is_told_why_as_the_api_tells_it(world: World, live_url: str) -> None:
    authorization = f"Bearer {_token(world, 'engineer', TokenRevokedReason.LEAKED)}"

    response = _post(live_url, {"Authorization": authorization})

    assert response.status_code == 401
    assert response.json() == _rest_error(authorization)
    assert response.json()["error"]["code"] == "token_leaked"


def test_the_official_client_gets_no_session_without_a_live_token(
    world: World, live_url: str
) -> None:
    for token in (None, "qry_forged"):
        with pytest.raises(BaseException) as refused:
            call_tool(live_url, token, "list_collections")
        assert "401" in raised_messages(refused.value), token
    # and the same client with a live token works
    assert structured(call_tool(live_url, _token(world, "engineer"), "list_collections"))


def test_a_host_outside_allowed_hosts_is_refused_as_django_refuses_it(
    world: World, live_url: str
) -> None:
    token = _token(world, "engineer")

    response = _post(live_url, {"Authorization": f"Bearer {token}", "Host": "evil.example"})

    assert response.status_code == 400
