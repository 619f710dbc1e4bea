"""Test clients signed in the two ways Quarry lets people in: a browser session (pages, chat,
manage, admin) and a bearer token (the REST API). The anonymous persona gets a client that is
signed out (and has no token: `api_token_of`), so one parametrized test covers every persona.
Below them, the API requests that several tests make the same way."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from kb.models import Collection
from kb.services.api_tokens import api_token_create
from tests.support.personas import World


def signed_in(world: World, persona: str, **options: Any) -> Client:
    """A browser session of one persona of the test company."""
    return signed_in_as(world.users[persona], **options)


def signed_in_as(user: Any, **options: Any) -> Client:
    """A browser session of `user`; `options` go to Django's test Client."""
    client = Client(**options)
    if user.is_authenticated:
        client.force_login(user)
    return client


def api_client(world: World, persona: str) -> APIClient:
    """An API client with a fresh token of one persona of the test company."""
    return api_client_as(world.users[persona])


def api_client_as(user: Any) -> APIClient:
    """An API client with a fresh token of `user`."""
    return bearer_client(api_token_of(user))


def api_token_of(user: Any) -> str | None:
    """A fresh API token of `user`; None for the anonymous user, who sends none."""
    if not user.is_authenticated:
        return None
    _row, token = api_token_create(user=user)
    return token


def bearer_client(token: str | None) -> APIClient:
    """An API client that sends `token` as its bearer token (None: no Authorization header)."""
    client = APIClient()
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def api_upload(client: APIClient, collection: Collection, *files: tuple[str, bytes]) -> Any:
    """Uploads (name, content) files to `collection` in one REST request."""
    payload = {"files": [SimpleUploadedFile(name, data) for name, data in files]}
    return client.post(
        f"/api/v1/collections/{collection.pk}/documents", payload, format="multipart"
    )
