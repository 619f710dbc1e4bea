"""Errors outside the REST framework's views keep the API's JSON shape under /api/ (an unknown
path, an unhandled exception); pages keep their HTML error pages."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.support.clients import api_client
from tests.support.personas import World

pytestmark = pytest.mark.integration


def test_an_unknown_api_path_is_a_json_404_with_or_without_a_token(world: World) -> None:
    signed = api_client(world, "hr_reader")

    for client in (signed, APIClient()):
        response = client.get("/api/v1/documents?limit=100")

        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_an_unknown_page_is_the_html_404_page(db: None) -> None:
    response = Client().get("/no-such-page")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "Not found" in response.content.decode()


@pytest.mark.urls("tests.integration.api.failing_urls")
def test_a_bug_in_an_api_view_is_a_json_500_naming_the_request_id(db: None) -> None:
    response = Client(raise_request_exception=False).get("/api/v1/broken")

    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "server_error"
    assert "X-Request-ID" in error["message"]
    assert "a bug in a view" not in response.content.decode()  # no internals to the client
    assert response["X-Request-ID"]
