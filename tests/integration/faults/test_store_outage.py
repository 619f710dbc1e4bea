"""The vector store becomes unreachable: questions and searches get a clear 503 (never a 500
or an answer built from nothing), the document table is untouched, and everything works again
once the store is back."""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings

from kb.models import Document
from kb.stores import factory
from tests.support.clients import api_client
from tests.support.personas import IndexedWorld

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_an_unreachable_vector_store_is_a_503_and_corrupts_nothing(
    indexed_world: IndexedWorld, settings: Settings
) -> None:
    client = api_client(indexed_world.world, "engineer")
    before = factory.vector_index().count()
    documents = list(Document.objects.order_by("pk").values("pk", "status", "chunk_count"))
    ask = {"question": "Who descales the office coffee machine?"}

    settings.QDRANT_URL = "http://127.0.0.1:9"  # a server that is not there
    factory.close_stores()
    searched = client.post("/api/v1/search", {"query": ask["question"]}, format="json")
    asked = client.post("/api/v1/query", ask, format="json")
    settings.QDRANT_URL = ""
    factory.close_stores()

    for response in (searched, asked):
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "unavailable"
        assert "127.0.0.1:9" in response.json()["error"]["message"]
    assert list(Document.objects.order_by("pk").values("pk", "status", "chunk_count")) == (
        documents
    )
    assert factory.vector_index().count() == before
    assert client.post("/api/v1/search", {"query": ask["question"]}, format="json").json()[
        "results"
    ]
