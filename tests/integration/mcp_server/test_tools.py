"""The four tools over `/mcp` with the official MCP client, on the persona company's ingested
documents: what each returns, and that `ask` and `search` are the REST API's own answers,
query log, answer cache, rate limit and metrics, not a copy of them."""

from __future__ import annotations

import socket
import uuid

import pytest
from prometheus_client import REGISTRY
from pytest_django.fixtures import Settings

from kb.llm.factory import forget_chat_model
from kb.models import QueryLog
from kb.stores.payload import chunk_id
from retrieval.refusals import NOT_FOUND
from tests.support.clients import api_client, api_token_of, signed_in
from tests.support.mcp_client import call_tool, list_tools, structured, text_of
from tests.support.model_server import ScriptedModel
from tests.support.personas import EXPECTED_VISIBLE, TOPIC, IndexedWorld, canary

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "When is the office coffee machine descaled?"
REPLY = "The facilities team descales it every Friday [1]."
SOURCE_FIELDS = ("document_id", "title", "page", "section", "chunk_id", "link")


def _token(indexed: IndexedWorld, persona: str = "engineer") -> str:
    token = api_token_of(indexed.world.users[persona])
    assert token is not None
    return token


def _answers(outcome: str) -> float:
    refused = "true" if outcome == "refused" else "false"
    labels = {"refused": refused, "cached": "true" if outcome == "cached" else "false"}
    return REGISTRY.get_sample_value("quarry_answers_total", labels) or 0.0


def test_every_tool_says_what_it_returns(indexed_world: IndexedWorld, live_url: str) -> None:
    tools = {t.name: t for t in list_tools(live_url, _token(indexed_world)).tools}

    assert set(tools) == {"list_collections", "search", "ask", "get_passage"}
    returns = {
        "list_collections": {"collections"},
        "search": {"passages", "translations", "translation_skipped"},
        "ask": {"answer", "refused", "citations", "closest", "query_id"},
        "get_passage": {"text", *SOURCE_FIELDS},
    }
    for name, fields in returns.items():
        description, schema = tools[name].description, tools[name].outputSchema
        assert description is not None and len(description) > 60, name
        assert schema is not None and fields <= set(schema["properties"]), name
    assert set(tools["search"].inputSchema["properties"]) == {
        "query",
        "collection_ids",
        "top_k",
        "translate",
    }


def test_search_gives_each_passage_with_the_chats_link_to_its_source(
    indexed_world: IndexedWorld, live_url: str
) -> None:
    found = structured(
        call_tool(live_url, _token(indexed_world), "search", {"query": QUESTION, "top_k": 20})
    )

    passages = found["passages"]
    assert {p["title"] for p in passages} == EXPECTED_VISIBLE["engineer"]
    for passage in passages:
        assert TOPIC[:40] in passage["snippet"]
        assert passage["link"] == f"{live_url}/sources/{passage['chunk_id']}"
    # the link opens the source view for the same person signed in to the web app
    runbook = next(p for p in passages if p["title"] == "runbook")
    page = signed_in(indexed_world.world, "engineer").get(runbook["link"].removeprefix(live_url))
    assert page.status_code == 200 and canary("runbook") in page.content.decode()


@pytest.mark.llm
def test_search_translates_a_query_in_another_language_unless_told_not_to(
    indexed_world: IndexedWorld, live_url: str, settings: Settings
) -> None:
    """A Chinese query over the company's English documents is searched in the English the
    small model writes, as the REST API does (tests/integration/retrieval/test_translation.py)."""
    settings.KB_TRANSLATE_SEARCHES = True
    token = _token(indexed_world)
    query = "办公室的咖啡机什么时候除垢？"  # When is the office coffee machine descaled?

    translated = structured(call_tool(live_url, token, "search", {"query": query}))
    as_asked = structured(
        call_tool(live_url, token, "search", {"query": query, "translate": False})
    )

    assert translated["translation_skipped"] is False
    assert any("coffee" in text.lower() for text in translated["translations"])
    assert translated["passages"]
    assert {p["title"] for p in translated["passages"]} <= EXPECTED_VISIBLE["engineer"]
    assert TOPIC[:40] in translated["passages"][0]["snippet"]
    assert as_asked["translations"] == [] and as_asked["translation_skipped"] is False


def test_search_in_a_collection_searches_only_there(
    indexed_world: IndexedWorld, live_url: str
) -> None:
    engineering = indexed_world.documents["runbook"].collection_id
    arguments = {"query": QUESTION, "collection_ids": [engineering], "top_k": 20}

    found = structured(call_tool(live_url, _token(indexed_world), "search", arguments))

    assert {p["title"] for p in found["passages"]} == {"runbook", "architecture"}


def test_ask_answers_exactly_as_the_query_api_and_logs_it_the_same_way(
    indexed_world: IndexedWorld, live_url: str, scripted_model: type[ScriptedModel]
) -> None:
    scripted_model.reply = REPLY
    answered_before = _answers("answered")
    rest = api_client(indexed_world.world, "engineer").post(
        "/api/v1/query", {"question": QUESTION}, format="json"
    )
    assert rest.status_code == 200

    mcp = structured(call_tool(live_url, _token(indexed_world), "ask", {"question": QUESTION}))

    expected = rest.json()
    for field in ("answer", "refused", "refusal", "check"):
        assert mcp[field] == expected[field], field
    assert "[1]" in mcp["answer"] and mcp["refused"] is False
    strip = lambda c: {k: c[k] for k in ("n", *SOURCE_FIELDS[:-1])}  # noqa: E731
    assert [strip(c) for c in mcp["citations"]] == [strip(c) for c in expected["citations"]]
    assert all(c["link"] == f"{live_url}/sources/{c['chunk_id']}" for c in mcp["citations"])
    logs = list(QueryLog.objects.order_by("pk"))
    assert [log.pk for log in logs] == [expected["query_id"], mcp["query_id"]]
    assert logs[0].question_redacted == logs[1].question_redacted == QUESTION
    assert logs[0].pseudonym == logs[1].pseudonym  # the same asker, by token or by MCP
    assert _answers("answered") == answered_before + 2


def test_ask_refuses_with_the_closest_readable_sources(
    indexed_world: IndexedWorld, live_url: str, scripted_model: type[ScriptedModel]
) -> None:
    scripted_model.reply = "I don't know."

    answer = structured(call_tool(live_url, _token(indexed_world), "ask", {"question": QUESTION}))

    assert (answer["refused"], answer["refusal"], answer["citations"]) == (True, "declined", [])
    assert answer["answer"].startswith(NOT_FOUND)
    assert answer["closest"]
    assert {c["title"] for c in answer["closest"]} <= EXPECTED_VISIBLE["engineer"]
    assert all(c["link"].endswith(f"/sources/{c['chunk_id']}") for c in answer["closest"])
    assert QueryLog.objects.get(pk=answer["query_id"]).refusal == "declined"


def test_ask_is_served_from_the_answer_cache_the_api_fills(
    indexed_world: IndexedWorld,
    live_url: str,
    scripted_model: type[ScriptedModel],
    settings: Settings,
) -> None:
    settings.KB_ANSWER_CACHE_SECONDS = 300
    scripted_model.reply = REPLY
    first = api_client(indexed_world.world, "engineer").post(
        "/api/v1/query", {"question": QUESTION}, format="json"
    )
    model_calls = len(scripted_model.bodies)

    again = structured(call_tool(live_url, _token(indexed_world), "ask", {"question": QUESTION}))

    assert again["answer"] == first.json()["answer"]
    assert len(scripted_model.bodies) == model_calls  # the model was not asked again
    assert QueryLog.objects.get(pk=again["query_id"]).cached is True


def test_search_and_ask_spend_the_same_per_user_budget_as_the_api(
    indexed_world: IndexedWorld,
    live_url: str,
    scripted_model: type[ScriptedModel],
    settings: Settings,
) -> None:
    settings.KB_API_RATE_PER_MINUTE = 2
    scripted_model.reply = REPLY
    token = _token(indexed_world)
    assert not call_tool(live_url, token, "search", {"query": QUESTION}).isError
    assert not call_tool(live_url, token, "ask", {"question": QUESTION}).isError

    refused = call_tool(live_url, token, "search", {"query": QUESTION})
    rest = api_client(indexed_world.world, "engineer").post(
        "/api/v1/search", {"query": QUESTION}, format="json"
    )

    assert refused.isError and "Request was throttled" in text_of(refused)
    assert rest.status_code == 429  # a second token, the same person: the same budget


def test_get_passage_returns_the_full_text_of_a_readable_chunk(
    indexed_world: IndexedWorld, live_url: str
) -> None:
    runbook = indexed_world.documents["runbook"]
    chunk = chunk_id(runbook.pk, runbook.version, 0)

    passage = structured(
        call_tool(live_url, _token(indexed_world), "get_passage", {"chunk_id": chunk.upper()})
    )

    assert passage["text"] == f"runbook notes. {TOPIC} Reference code {canary('runbook')}."
    assert (passage["document_id"], passage["title"], passage["chunk_id"]) == (
        runbook.pk,
        "runbook",
        chunk,
    )
    assert passage["link"] == f"{live_url}/sources/{chunk}"


def test_a_malformed_chunk_id_is_answered_as_an_unknown_one(
    indexed_world: IndexedWorld, live_url: str
) -> None:
    token = _token(indexed_world)

    malformed = call_tool(live_url, token, "get_passage", {"chunk_id": "../../etc/passwd"})
    unknown = call_tool(live_url, token, "get_passage", {"chunk_id": str(uuid.uuid4())})

    assert malformed.isError and malformed.model_dump() == unknown.model_dump()


def test_arguments_are_checked_by_the_apis_rules(
    indexed_world: IndexedWorld, live_url: str
) -> None:
    token = _token(indexed_world)

    too_many = call_tool(live_url, token, "search", {"query": QUESTION, "top_k": 999})
    empty = call_tool(live_url, token, "ask", {"question": " "})

    assert too_many.isError and "top_k: At most 20." in text_of(too_many)
    assert empty.isError and "question:" in text_of(empty)


def test_a_model_that_cannot_be_reached_is_a_tool_error_in_the_apis_words(
    indexed_world: IndexedWorld, live_url: str, settings: Settings
) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        settings.KB_LLM_BASE_URL = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
        forget_chat_model()
        try:
            rest = api_client(indexed_world.world, "engineer").post(
                "/api/v1/query", {"question": QUESTION}, format="json"
            )
            result = call_tool(live_url, _token(indexed_world), "ask", {"question": QUESTION})
        finally:
            forget_chat_model()

    assert rest.status_code == 503
    assert result.isError
    assert text_of(result).endswith(rest.json()["error"]["message"])
