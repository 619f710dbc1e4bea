"""Operations endpoints and logs: readiness names what is down, metrics count what happened,
a request id follows an upload from the web request into the worker, and no log line holds a
question or who asked it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pytest_django.fixtures import Settings

from kb.llm.factory import forget_chat_model
from kb.models import Document, DocumentStatus
from kb.stores import factory
from kb.worker import EmbeddedWorker
from tests.support.clients import api_client, api_client_as
from tests.support.factories import CollectionFactory, GroupFactory, UserFactory
from tests.support.personas import IndexedWorld, group
from tests.support.waiting import poll_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous"),
]


def test_readyz_reports_every_dependency_ready(stores: Path, db: None) -> None:
    response = Client().get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready" and body["down"] == []
    assert set(body["checks"]) == {"database", "broker", "vector_store", "graph_store", "model"}


def test_readyz_names_what_is_down_with_503(
    stores: Path, db: None, settings: Settings, tmp_path: Path
) -> None:
    settings.QDRANT_URL = "http://127.0.0.1:9"  # nothing listens there
    settings.KB_LLM_MODEL_PATH = str(tmp_path / "absent.gguf")
    factory.close_stores()

    response = Client().get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["model", "vector_store"]
    assert "make model" in body["checks"]["model"]["error"]
    assert body["checks"]["database"]["ok"] and body["checks"]["graph_store"]["ok"]


@pytest.mark.parametrize("path", ["/readyz", "/metrics"])
def test_ops_endpoints_are_loopback_or_token_only(
    db: None, settings: Settings, path: str, stores: Path
) -> None:
    settings.KB_METRICS_TOKEN = "scrape-secret-123"
    remote = Client(REMOTE_ADDR="10.1.2.3")

    assert remote.get(path).status_code == 404
    assert remote.get(path, HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert remote.get(path, HTTP_AUTHORIZATION="Bearer scrape-secret-123").status_code == 200


def test_metrics_count_answers_retrieval_and_ingestion(
    indexed_world: IndexedWorld, settings: Settings
) -> None:
    settings.KB_FUSION_WEIGHTS = {"dense": 1.0, "sparse": 1.0, "graph": 0.5}  # all three paths
    client = api_client(indexed_world.world, "engineer")
    before = _metrics()
    client.post("/api/v1/query", {"question": "What is the capital of Mongolia?"}, format="json")

    after = _metrics()

    refused = 'quarry_answers_total{cached="false",refused="true"}'
    assert _value(after, refused) == _value(before, refused) + 1
    for path in ("dense", "sparse", "graph"):
        bucket = f'quarry_retrieval_seconds_count{{path="{path}"}}'
        assert _value(after, bucket) == _value(before, bucket) + 1
    assert _value(after, "quarry_ingest_documents_total") >= 6  # the world's documents
    assert 'quarry_queue_depth{queue="ingest"}' in after
    assert "django_http_requests_total_by_method_total" in after


def test_a_request_id_follows_an_upload_into_the_worker(
    worker: EmbeddedWorker, caplog: pytest.LogCaptureFixture
) -> None:
    group = GroupFactory.create(name="ops")
    collection = CollectionFactory.create(name="Ops", editor_groups=[group])
    client = api_client_as(UserFactory.create(username="ed", groups=[group]))
    caplog.set_level(logging.INFO)

    response = client.post(
        f"/api/v1/collections/{collection.pk}/documents",
        {"files": [SimpleUploadedFile("broken.pdf", b"%PDF-1.7 not really")]},
        format="multipart",
        HTTP_X_REQUEST_ID="trace-upload-0001",
    )

    assert response.status_code == 202 and response["X-Request-ID"] == "trace-upload-0001"
    document_id = response.json()["results"][0]["id"]
    _wait_settled(document_id)
    failure = [r for r in caplog.records if r.name == "ingestion.pipeline"]
    assert failure and {r.request_id for r in failure} == {"trace-upload-0001"}  # type: ignore[attr-defined]  # set by our log record factory


def test_logs_hold_no_question_and_no_identity(
    indexed_world: IndexedWorld, caplog: pytest.LogCaptureFixture
) -> None:
    user = UserFactory.create(
        username="quentin.rarename",
        email="quentin@rare.example",
        first_name="Quentin",
        groups=[group("eng")],
    )
    client = api_client_as(user)
    caplog.set_level(logging.DEBUG)
    question = "Who descales the office coffee machine for zebra-project-913?"

    client.post("/api/v1/query", {"question": question}, format="json")
    streamed = client.post("/api/v1/query", {"question": question, "stream": True}, format="json")
    b"".join(streamed)  # run the stream to its end

    logged = "\n".join(
        f"{r.getMessage()} {r.__dict__}" for r in caplog.records
    )  # message and every extra field
    assert caplog.records  # the access log at least
    assert "zebra-project-913" not in logged
    for identity in ("quentin", "rarename", "rare.example"):
        assert identity not in logged.lower()
    forget_chat_model()


def _wait_settled(document_id: int, timeout: float = 120) -> None:
    settled = {DocumentStatus.INDEXED, DocumentStatus.FAILED}
    status = poll_until(
        lambda: Document.objects.get(pk=document_id).status,
        lambda status: status in settled,
        timeout=timeout,
    )
    assert status in settled, f"document {document_id} did not settle"


def _metrics() -> str:
    response = Client().get("/metrics")
    assert response.status_code == 200
    return response.content.decode()


def _value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
