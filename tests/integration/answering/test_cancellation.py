"""Never compute for nobody: a streamed question whose client drops the connection stops the
model within 2 s, also while the model is still reading the prompt, and the next question gets
the model. Served for real (uvicorn, kb.asgi) with the small model in this process, so the test
sees the model's own lock."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pytest_django.fixtures import Settings

from ingestion.pipeline import ingest_document
from kb.access import CONSOLE
from kb.llm.chat import LlamaCppChat, Message
from kb.llm.factory import chat_model, forget_chat_model
from kb.services.api_tokens import api_token_create
from kb.services.documents import document_add
from kb.uploads import IncomingFile
from tests.support import samples
from tests.support.factories import CollectionFactory, GroupFactory, UserFactory
from tests.support.live_asgi import serving
from tests.support.llm import SMALL_MODEL, small_model_path
from tests.support.waiting import poll_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.llm]

FREED_WITHIN_SECONDS = 2.0
QUESTION = "How do I restore a PostgreSQL backup and replay the write-ahead log?"


@pytest.fixture
def asker(transactional_db: None, stores: Path, settings: Settings, tmp_path: Path) -> str:
    """A reader's token over a long manual: five long passages make a prompt of well over a
    thousand tokens, which the small model reads for several seconds on this machine."""
    settings.KB_LLM_BASE_URL = ""
    settings.KB_LLM_MODEL_PATH = str(small_model_path())
    settings.KB_LLM_MODEL_NAME = SMALL_MODEL.name
    forget_chat_model()
    readers = GroupFactory.create(name="dba")
    collection = CollectionFactory.create(name="Runbooks", reader_groups=[readers])
    sections = [f"Section {n}. " + samples.BACKUP_TEXT * 8 for n in range(12)]
    path = samples.text(tmp_path / "restore-runbook.txt", "\n\n".join(sections))
    document, _ = document_add(
        collection=collection, incoming=IncomingFile(path.name, path), uploader=CONSOLE
    )
    assert ingest_document(document_id=document.pk, version=document.version) == "indexed"
    user = UserFactory.create(username="dora", groups=[readers])
    return api_token_create(user=user)[1]


def _ask(url: str, token: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=120)
    body = json.dumps({"question": QUESTION, "stream": True})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection.request("POST", "/api/v1/query", body=body, headers=headers)
    response = connection.getresponse()
    assert response.status == 200
    return connection, response


def _read_until(response: http.client.HTTPResponse, event: str) -> float:
    """Reads the stream up to the line `event: <event>`; returns when it arrived."""
    seen = []
    while True:
        line = response.readline()
        seen.append(line)
        assert line, f"the stream ended before `{event}`: {seen}"
        if line.strip() == f"event: {event}".encode():
            return time.monotonic()


def test_a_dropped_stream_frees_the_model_while_it_reads_the_prompt(
    asker: str, prompts: list[list[Message]]
) -> None:
    from kb.asgi import application

    model = chat_model()
    assert isinstance(model, LlamaCppChat)
    with serving(application) as url:
        connection, response = _ask(url, asker)
        _read_until(response, "sources")  # retrieval done: the model starts on the prompt
        reading = model._lock.locked()
        dropped_at = time.monotonic()
        connection.close()
        busy = poll_until(lambda: model._lock.locked(), lambda busy: not busy, timeout=60)
        freed_after = time.monotonic() - dropped_at

        # The next question gets the model at once and is answered.
        connection, response = _ask(url, asker)
        _read_until(response, "done")
        connection.close()

    # Control: read whole, from an empty cache, the prompt takes longer than the promise, so
    # the model was stopped in the middle of it.
    model._llama.reset()
    started = time.monotonic()
    model.chat(prompts[0], max_tokens=1)
    prompt_seconds = time.monotonic() - started

    assert reading and not busy
    assert freed_after <= FREED_WITHIN_SECONDS, f"model busy {freed_after:.1f} s after the drop"
    assert prompt_seconds > FREED_WITHIN_SECONDS, f"a {prompt_seconds:.1f} s prompt proves little"
