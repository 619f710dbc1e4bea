"""Questions asked at the same time reach the model server at the same time: compose's llm
service answers KB_LLM_PARALLEL of them together (llama.cpp's slots, continuous batching), which
only helps if nothing on the app's side sends them one after another. The server is a scripted
counterpart on loopback (tests/support/model_server.py) that holds every request until
PARALLEL requests are in it at once; requests sent in turn would each wait alone and get 503.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from django.db import connections
from pytest_django.fixtures import Settings

from ingestion.pipeline import ingest_document
from kb.access import CONSOLE
from kb.answering import answer_question
from kb.llm.chat import Message
from kb.llm.factory import chat_model
from kb.services.documents import document_add
from kb.uploads import IncomingFile
from tests.support.model_server import ScriptedModel
from tests.support.personas import World, build_world

pytestmark = pytest.mark.integration

PARALLEL = 4  # compose's default KB_LLM_PARALLEL
WAIT_SECONDS = 20  # the longest a request waits for the others before the test fails
T = TypeVar("T")


def _at_once(work: Callable[[int], T]) -> list[T]:
    """`work(0)` … `work(PARALLEL - 1)`, each in its own thread, as web workers would; the
    threads' database connections are closed as the web's are."""

    def run(n: int) -> T:
        try:
            return work(n)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(run, range(PARALLEL)))


def test_the_configured_model_sends_simultaneous_calls_together(
    scripted_model: type[ScriptedModel],
) -> None:
    """The ChatModel the settings build for KB_LLM_BASE_URL holds no lock of its own: streamed
    answers and answerability checks alike arrive together."""
    scripted_model.reply = "Backups run nightly."
    scripted_model.together = threading.Barrier(PARALLEL, timeout=WAIT_SECONDS)
    model = chat_model()

    def messages(n: int) -> list[Message]:
        return [{"role": "user", "content": f"Question {n}: when do backups run?"}]

    streamed = _at_once(lambda n: "".join(model.stream(messages(n), max_tokens=16)))
    checked = _at_once(lambda n: model.choose(messages(n), ["yes", "no"]))

    assert [s.split() for s in streamed] == [["Backups", "run", "nightly."]] * PARALLEL
    assert [round(c["yes"], 3) for c in checked] == [1.0] * PARALLEL
    assert scripted_model.most_at_once == PARALLEL
    assert len(scripted_model.bodies) == 2 * PARALLEL


@pytest.fixture
def world(transactional_db: None, stores: Path, tmp_path: Path) -> World:
    world = build_world()
    path = tmp_path / "backups.txt"
    path.write_text(
        "Backups\n\nThe finance database is backed up every night at 02:30 to the Frankfurt data "
        "centre, each backup is kept for 35 days, and restores are tested every quarter.",
        encoding="utf-8",
    )
    document, _ = document_add(
        collection=world.collections["eng"],
        incoming=IncomingFile("backups.txt", path),
        uploader=CONSOLE,
    )
    assert ingest_document(document_id=document.pk, version=document.version) == "indexed"
    return world


QUESTIONS = [
    "When is the finance database backed up?",
    "Where are the finance database backups stored?",
    "How long is each finance database backup kept?",
    "How often are restores of the finance database tested?",
]


@pytest.mark.slow
def test_simultaneous_questions_reach_the_model_server_together(
    world: World, scripted_model: type[ScriptedModel], settings: Settings
) -> None:
    """Through the answering service (retrieval, the answerability check, the streamed answer,
    the query log): PARALLEL people asking at once are PARALLEL checks at once, then PARALLEL
    answers at once."""
    settings.KB_ANSWERABILITY_CHECK = True
    scripted_model.p_yes = 0.9
    scripted_model.reply = "The finance database is backed up every night at 02:30 [1]."
    scripted_model.together = threading.Barrier(PARALLEL, timeout=WAIT_SECONDS)
    engineer = world.users["engineer"]
    assert len(QUESTIONS) == PARALLEL

    finished = _at_once(lambda n: answer_question(user=engineer, question=QUESTIONS[n], top_k=5))

    assert [f.answer.refused for f in finished] == [False] * PARALLEL
    assert scripted_model.most_at_once == PARALLEL
    streamed = [body for body in scripted_model.bodies if body.get("stream")]
    checks = [body for body in scripted_model.bodies if body.get("logprobs")]
    assert (len(checks), len(streamed)) == (PARALLEL, PARALLEL)
    asked = sorted(body["messages"][-1]["content"] for body in streamed)
    assert all(any(q in text for q in QUESTIONS) for text in asked)
