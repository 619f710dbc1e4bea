"""Bearer tokens on the REST API: only valid, unrevoked tokens of active users get in."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from kb.models import ApiToken
from kb.services.api_tokens import api_token_create, api_token_revoke
from tests.support.clients import bearer_client
from tests.support.personas import World

pytestmark = pytest.mark.integration


def test_valid_token_identifies_its_user(world: World) -> None:
    _row, token = api_token_create(user=world.users["hr_reader"])

    response = bearer_client(token).get("/api/v1/me")

    assert response.status_code == 200
    assert response.json() == {"username": "alice", "is_staff": False, "groups": ["hr"]}


def test_only_the_hash_of_a_token_is_stored(world: World) -> None:
    row, token = api_token_create(user=world.users["hr_reader"])

    assert token not in {row.key_hash, row.prefix}
    assert not ApiToken.objects.filter(key_hash=token).exists()


@pytest.mark.parametrize(
    ("header", "label"),
    [
        (None, "no header"),
        ("Bearer qry_not-a-real-token", "unknown token"),
        ("Bearer", "malformed"),
        ("Basic dXNlcjpwYXNz", "wrong scheme"),
    ],
    ids=["missing", "unknown", "malformed", "wrong-scheme"],
)
def test_requests_without_a_valid_token_get_401_json(
    db: None, header: str | None, label: str
) -> None:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/v1/collections")

    assert response.status_code in {401, 403}, label
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] in {"not_authenticated", "authentication_failed"}


def test_revoked_token_is_refused(world: World) -> None:
    row, token = api_token_create(user=world.users["hr_reader"])
    api_token_revoke(token=row)

    assert bearer_client(token).get("/api/v1/me").status_code == 401


def test_token_of_deactivated_user_is_refused(world: World) -> None:
    _row, token = api_token_create(user=world.users["deactivated_hr"])

    assert bearer_client(token).get("/api/v1/me").status_code == 401


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("hr_reader", {"HR", "Company"}),
        ("engineer", {"Engineering", "Company"}),
        ("no_groups", {"Company"}),
        ("staff", {"HR", "Engineering", "Company"}),
    ],
    ids=["hr_reader", "engineer", "no_groups", "staff"],
)
def test_collections_endpoint_lists_only_readable_collections(
    world: World, persona: str, expected: set[str]
) -> None:
    _row, token = api_token_create(user=world.users[persona])

    results = bearer_client(token).get("/api/v1/collections").json()["results"]

    assert {c["name"] for c in results} == expected


def test_document_counts_exclude_documents_narrowed_away(world: World) -> None:
    _row, alice_token = api_token_create(user=world.users["hr_reader"])
    _row, carol_token = api_token_create(user=world.users["hr_lead"])

    def hr_count(token: str) -> int:
        results = bearer_client(token).get("/api/v1/collections").json()["results"]
        return next(c["document_count"] for c in results if c["name"] == "HR")

    assert hr_count(alice_token) == 2
    assert hr_count(carol_token) == 3


def test_openapi_schema_is_served_to_authenticated_callers(world: World) -> None:
    _row, token = api_token_create(user=world.users["hr_reader"])

    response = bearer_client(token).get("/api/v1/schema", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/collections" in schema["paths"]
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    operation = schema["paths"]["/api/v1/query"]["post"]
    assert {"bearerAuth": []} in operation["security"]
    assert bearer_client(None).get("/api/v1/schema").status_code in {401, 403}


def test_openapi_schema_is_valid_and_complete(db: None, tmp_path: Path) -> None:
    # drf-spectacular warns about what it cannot describe (an unknown authenticator, a view it
    # cannot read); a warning here is a gap in what API clients are told.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))

    assert "/api/v1/collections/{collection_id}/documents" in (tmp_path / "s.yml").read_text()
