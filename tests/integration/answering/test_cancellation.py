"""Never compute for nobody: a streamed question whose client drops the connection stops the
model within 2 s, also while the model is still reading the prompt, and the next question gets
the model; a chat question waiting for the model is told its place in line as it changes.
Served for real (uvicorn, kb.asgi) with the small model in this process, so the test sees the
model's own lock."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings

from ingestion.pipeline import ingest_document
from kb.access import CONSOLE
from kb.llm.chat import LlamaCppChat, Message
from kb.llm.factory import chat_model, forget_chat_model
from kb.models import Collection
from kb.services.api_tokens import api_token_create
from kb.services.documents import document_add
from kb.uploads import IncomingFile
from tests.support import samples
from tests.support.factories import CollectionFactory, GroupFactory, UserFactory
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
    asker: str, prompts: list[list[Message]], live_url: str
) -> None:
    model = chat_model()
    assert isinstance(model, LlamaCppChat)
    connection, response = _ask(live_url, asker)
    _read_until(response, "sources")  # retrieval done: the model starts on the prompt
    # The sources go out just before the model is taken: wait (briefly) until it is reading.
    reading = poll_until(lambda: model._lock.locked(), bool, timeout=5, every=0.01)
    dropped_at = time.monotonic()
    connection.close()
    busy = poll_until(lambda: model._lock.locked(), lambda busy: not busy, timeout=60)
    freed_after = time.monotonic() - dropped_at

    # The next question gets the model at once and is answered.
    connection, response = _ask(live_url, asker)
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


def _chat(
    url: str, cookies: str, csrf: str, question: str, collection: int
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=120)
    body = urlencode({"question": question, "collections": collection})
    headers = {
        "Cookie": cookies,
        "X-CSRFToken": csrf,
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "text/event-stream",
    }
    connection.request("POST", "/chat/stream", body=body, headers=headers)
    response = connection.getresponse()
    assert response.status == 200, response.read()
    return connection, response


def _queue_places(response: http.client.HTTPResponse, until: int) -> list[int]:
    """The `queue` events' counts, read until one says `until`."""
    places: list[int] = []
    while not places or places[-1] != until:
        _read_until(response, "queue")
        places.append(json.loads(response.readline().removeprefix(b"data: "))["ahead"])
    return places


def test_the_chat_shows_its_place_in_line_and_moves_up_when_the_one_ahead_leaves(
    asker: str, client: Client, live_url: str
) -> None:
    """Two people ask at once: the second is told one question is ahead of it, and when the
    first closes the tab, the second's turn comes at once and its answer arrives."""
    model = chat_model()
    assert isinstance(model, LlamaCppChat)
    dora = User.objects.get(username="dora")
    client.force_login(dora)
    csrf = "q" * 32
    cookies = f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}"
    collection = Collection.objects.get(name="Runbooks").pk
    first, first_response = _chat(live_url, cookies, csrf, QUESTION, collection)
    _read_until(first_response, "sources")
    poll_until(lambda: model._lock.locked(), bool, timeout=30)
    second, second_response = _chat(
        live_url, cookies, csrf, "How is a base backup copied?", collection
    )
    waiting = _queue_places(second_response, until=1)

    first.close()  # the first asker leaves
    left_at = time.monotonic()
    moved_up = _queue_places(second_response, until=0)
    turn_after = time.monotonic() - left_at
    _read_until(second_response, "done")
    second.close()

    assert waiting == [1]
    assert moved_up == [0]
    assert turn_after <= FREED_WITHIN_SECONDS + 1  # freed, then the next poll of the line
