"""Who sees what through `/mcp`, with real stores and the official MCP client: per persona,
exactly its collections (with the count of documents it may read in each), exactly its
passages in search, only its passages in an answer and its prompt, and get_passage of a chunk
it may not read answers exactly as a chunk that does not exist."""

from __future__ import annotations

import uuid

import pytest

from kb.llm.chat import Message
from kb.stores.payload import chunk_id
from tests.support.clients import api_token_of
from tests.support.mcp_client import call_tool, raised_messages, structured, text_of
from tests.support.model_server import ScriptedModel
from tests.support.personas import EXPECTED_VISIBLE, IndexedWorld, canary

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "When is the office coffee machine descaled?"
ALL_TITLES = set(EXPECTED_VISIBLE["staff"])
SIGNED_IN = [p for p in EXPECTED_VISIBLE if p not in {"anonymous", "deactivated_hr"}]


def _canaries_in(text: str) -> set[str]:
    return {title for title in ALL_TITLES if canary(title) in text}


def _titles(indexed: IndexedWorld, document_ids: set[int]) -> set[str]:
    return {t for t, d in indexed.documents.items() if d.pk in document_ids}


def _chunk_of(indexed: IndexedWorld, title: str) -> str:
    """Each test document is one short chunk, number 0 of its version."""
    document = indexed.documents[title]
    return chunk_id(document.pk, document.version, 0)


def _token(indexed: IndexedWorld, persona: str) -> str:
    token = api_token_of(indexed.world.users[persona])
    assert token is not None
    return token


@pytest.mark.parametrize("persona", SIGNED_IN)
def test_list_collections_shows_exactly_the_readable_ones_and_their_readable_documents(
    indexed_world: IndexedWorld, live_url: str, persona: str
) -> None:
    visible = EXPECTED_VISIBLE[persona]
    expected: dict[str, int] = {}
    for title in visible:
        name = indexed_world.documents[title].collection.name
        expected[name] = expected.get(name, 0) + 1

    found = structured(call_tool(live_url, _token(indexed_world, persona), "list_collections"))

    shown = {c["name"]: c["document_count"] for c in found["collections"]}
    assert shown == expected


@pytest.mark.parametrize("persona", SIGNED_IN)
def test_search_returns_exactly_the_readable_passages(
    indexed_world: IndexedWorld, live_url: str, persona: str
) -> None:
    token = _token(indexed_world, persona)

    result = call_tool(live_url, token, "search", {"query": QUESTION, "top_k": 20})

    passages = structured(result)["passages"]
    assert _titles(indexed_world, {p["document_id"] for p in passages}) == EXPECTED_VISIBLE[persona]
    assert _canaries_in(text_of(result)) == EXPECTED_VISIBLE[persona]


@pytest.mark.parametrize("persona", SIGNED_IN)
def test_get_passage_of_a_hidden_chunk_looks_like_an_unknown_one(
    indexed_world: IndexedWorld, live_url: str, persona: str
) -> None:
    token = _token(indexed_world, persona)
    unknown = call_tool(live_url, token, "get_passage", {"chunk_id": str(uuid.uuid4())})
    assert unknown.isError

    for title in ALL_TITLES:
        result = call_tool(
            live_url, token, "get_passage", {"chunk_id": _chunk_of(indexed_world, title)}
        )
        if title in EXPECTED_VISIBLE[persona]:
            assert canary(title) in structured(result)["text"], (persona, title)
        else:
            assert result.model_dump() == unknown.model_dump(), (persona, title)


def test_ask_prompts_and_cites_only_readable_passages(
    indexed_world: IndexedWorld,
    live_url: str,
    scripted_model: type[ScriptedModel],
    prompts: list[list[Message]],
) -> None:
    scripted_model.reply = "The facilities team descales it every Friday [1]."
    for persona in SIGNED_IN:
        visible = EXPECTED_VISIBLE[persona]
        prompts.clear()

        result = call_tool(
            live_url, _token(indexed_world, persona), "ask", {"question": QUESTION, "top_k": 20}
        )

        answer = structured(result)
        assert answer["refused"] is False, (persona, answer)
        (prompt,) = prompts
        assert _canaries_in("\n".join(m["content"] for m in prompt)) == visible, persona
        cited = _titles(indexed_world, {c["document_id"] for c in answer["citations"]})
        assert cited and cited <= visible, persona
        assert _canaries_in(text_of(result)) <= visible, persona


@pytest.mark.parametrize("persona", ["deactivated_hr", "anonymous"])
def test_without_a_live_token_no_tool_runs(
    indexed_world: IndexedWorld, live_url: str, persona: str
) -> None:
    """A deactivated user's token, or none at all: refused (401) before any MCP message."""
    token = api_token_of(indexed_world.world.users[persona])

    with pytest.raises(BaseException) as refused:  # the SDK wraps the HTTP error
        call_tool(live_url, token, "list_collections")

    assert "401" in raised_messages(refused.value)
