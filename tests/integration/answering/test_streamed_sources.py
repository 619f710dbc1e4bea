"""A streamed answer shows its sources at once (issue 14): the `sources` event comes as soon as
retrieval and the access post-check are done, while the model is still reading its prompt, and
names exactly the passages of that prompt. The model is a scripted server on loopback
(tests/support/model_server.py), held back where the test needs the model to be slow."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from kb.llm.chat import Message
from tests.support.clients import api_client
from tests.support.model_server import ScriptedModel
from tests.support.personas import IndexedWorld, canary
from tests.support.sse import Event, parse_events, read_events

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous"),
]

QUESTION = "When is the office coffee machine descaled?"
REPLY = "The facilities team descales it every Friday [1]."
# How long the sources may take while the model is held (retrieval takes well under a second).
SOURCES_WAIT_SECONDS = 10


def _ask(indexed: IndexedWorld, question: str = QUESTION) -> Any:
    client = api_client(indexed.world, "engineer")
    return client.post("/api/v1/query", {"question": question, "stream": True}, format="json")


def _titles(indexed: IndexedWorld, sources: list[dict[str, Any]]) -> set[str]:
    ids = {s["document_id"] for s in sources}
    return {t for t, d in indexed.documents.items() if d.pk in ids}


def _first_event_then_the_rest(response: Any, release: threading.Event) -> list[Event]:
    """Reads the first event while the model is held, then lets the model answer. A stream
    whose first event waits for the model fails here instead of passing late."""

    async def read() -> bytes:
        chunks = aiter(response.streaming_content)
        try:
            first = await asyncio.wait_for(anext(chunks), SOURCES_WAIT_SECONDS)
        finally:
            release.set()
        return first + b"".join([chunk async for chunk in chunks])

    return parse_events(asyncio.run(read()))


def test_the_sources_arrive_while_the_model_is_still_reading(
    indexed_world: IndexedWorld, scripted_model: type[ScriptedModel], prompts: list[list[Message]]
) -> None:
    # Given a model that has not answered yet
    scripted_model.reply = REPLY
    scripted_model.released = threading.Event()

    # When the engineer asks for a streamed answer
    events = _first_event_then_the_rest(_ask(indexed_world), scripted_model.released)

    # Then the first event, read before the model could answer, lists the sources
    names = [name for name, _ in events]
    assert names[0] == "sources" and names.index("sources") < names.index("token")
    assert names[-2:] == ["citations", "done"] and names.count("sources") == 1
    sources = events[0][1]["sources"]
    # And they are exactly the prompt's passages, numbered as the model reads them
    (prompt,) = prompts
    text = "\n".join(m["content"] for m in prompt)
    assert _titles(indexed_world, sources) == {"runbook", "architecture", "company-news"}
    assert {t for t in indexed_world.documents if canary(t) in text} == _titles(
        indexed_world, sources
    )
    assert [s["n"] for s in sources] == list(range(1, len(sources) + 1))
    for source in sources:
        assert canary(source["title"]) in source["snippet"]  # a short passage: all of it
        assert source["snippet"] in text
    # And the answer's citations refer to them by the same numbers
    cited = dict(events)["citations"]["citations"]
    assert cited and {(c["n"], c["chunk_id"]) for c in cited} <= {
        (s["n"], s["chunk_id"]) for s in sources
    }


def test_a_cached_answer_sends_its_sources_before_its_text(
    indexed_world: IndexedWorld, scripted_model: type[ScriptedModel], settings: Settings
) -> None:
    settings.KB_ANSWER_CACHE_SECONDS = 600
    scripted_model.reply = REPLY
    first = read_events(_ask(indexed_world))

    again = read_events(_ask(indexed_world))

    assert [name for name, _ in again] == ["sources", "token", "citations", "done"]
    assert len(scripted_model.bodies) == 1  # the second answer came from the cache
    assert again[0] == first[0]
    assert again[1][1]["text"] == REPLY


def test_a_question_refused_before_the_model_sends_no_sources(
    indexed_world: IndexedWorld, scripted_model: type[ScriptedModel]
) -> None:
    events = read_events(_ask(indexed_world, "Who won the 1998 World Cup?"))

    assert [name for name, _ in events] == ["citations", "done"]
    assert events[0][1]["refusal"] == "no_evidence"
    assert scripted_model.bodies == []


def test_a_model_that_declines_leaves_the_sources_shown_and_names_the_closest(
    indexed_world: IndexedWorld, scripted_model: type[ScriptedModel]
) -> None:
    scripted_model.reply = "I don't know."

    events = read_events(_ask(indexed_world))

    assert [name for name, _ in events] == ["sources", "citations", "done"]
    found, refused = events[0][1]["sources"], events[1][1]
    assert (refused["refused"], refused["refusal"], refused["citations"]) == (
        True,
        "declined",
        [],
    )
    assert {c["chunk_id"] for c in refused["closest"]} <= {s["chunk_id"] for s in found}


def test_the_latency_bench_times_the_sources_before_the_first_token(
    indexed_world: IndexedWorld, scripted_model: type[ScriptedModel]
) -> None:
    """`bench latency`'s answer runs report time to sources beside time to first token."""
    from bench.latency.llm import _answer_run
    from kb.access import access_scope
    from retrieval.factory import default_answerer

    held_for = 1.0  # the model is held this long (from just before the run) before it answers
    scripted_model.reply = REPLY
    scripted_model.released = threading.Event()
    threading.Timer(held_for, scripted_model.released.set).start()
    engineer = indexed_world.world.users["engineer"]

    run = _answer_run(default_answerer(), QUESTION, access_scope(engineer))

    assert run.model_called and not run.refused
    assert 0 < run.sources_ms < held_for * 500 < run.ttft_visible_ms  # halfway: no clock race
