"""Who sees what, over the REST API, with real stores and the real model: the exact visible
set per persona on search, query, streamed query (its sources shown before the answer too) and
documents, asserted on the prompt too. Canary strings planted in every document never appear
where their reader may not look."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from kb.llm.chat import Message
from tests.support.clients import api_client
from tests.support.model_server import ScriptedModel
from tests.support.personas import EXPECTED_VISIBLE, TOPIC, IndexedWorld, canary, group
from tests.support.sse import parse_events, read_events

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous"),
]

QUESTION = "When is the office coffee machine descaled?"
ALL_TITLES = set(EXPECTED_VISIBLE["staff"])
SIGNED_IN = [p for p in EXPECTED_VISIBLE if p not in {"anonymous", "deactivated_hr"}]


def _canaries_in(text: str) -> set[str]:
    return {title for title in ALL_TITLES if canary(title) in text}


def _titles(indexed: IndexedWorld, document_ids: set[int]) -> set[str]:
    return {t for t, d in indexed.documents.items() if d.pk in document_ids}


@pytest.mark.parametrize("persona", SIGNED_IN)
def test_search_returns_exactly_the_readable_documents(
    indexed_world: IndexedWorld, persona: str
) -> None:
    response = api_client(indexed_world.world, persona).post(
        "/api/v1/search", {"query": QUESTION, "top_k": 20}, format="json"
    )

    assert response.status_code == 200
    results = response.json()["results"]
    assert _titles(indexed_world, {r["document_id"] for r in results}) == EXPECTED_VISIBLE[persona]
    assert _canaries_in(response.content.decode()) == EXPECTED_VISIBLE[persona]


@pytest.mark.llm
def test_query_and_stream_prompt_only_readable_passages(
    indexed_world: IndexedWorld, prompts: list[list[Message]]
) -> None:
    for persona in SIGNED_IN:
        visible = EXPECTED_VISIBLE[persona]
        client = api_client(indexed_world.world, persona)
        for stream in (False, True):
            prompts.clear()
            response = client.post(
                "/api/v1/query",
                {"question": QUESTION, "top_k": 20, "stream": stream},
                format="json",
            )
            assert response.status_code == 200, (persona, stream)
            body = b"".join(response) if stream else response.content
            # what reached the model: exactly the readable documents, nothing else
            assert len(prompts) == 1, (persona, stream)
            prompt = "\n".join(m["content"] for m in prompts[0])
            assert _canaries_in(prompt) == visible, (persona, stream)
            # what reached the caller: never a canary of a document it may not read
            assert _canaries_in(body.decode()) <= visible, (persona, stream)
            out = parse_events(body)[-1][1] if stream else response.json()
            assert isinstance(out["query_id"], int)


def test_the_sources_shown_before_the_answer_are_the_prompts_readable_passages(
    indexed_world: IndexedWorld, scripted_model: type[ScriptedModel], prompts: list[list[Message]]
) -> None:
    """The `sources` event is sent before the model starts, ahead of every later check: what
    it lists must already be exactly what the asker may read, and what the prompt holds."""
    scripted_model.reply = "The facilities team descales it [1]."
    for persona in SIGNED_IN:
        visible = EXPECTED_VISIBLE[persona]
        prompts.clear()

        response = api_client(indexed_world.world, persona).post(
            "/api/v1/query", {"question": QUESTION, "top_k": 20, "stream": True}, format="json"
        )

        body = b"".join(response)
        (name, found), *_ = parse_events(body)
        assert name == "sources", persona
        shown = _titles(indexed_world, {s["document_id"] for s in found["sources"]})
        assert shown == visible, persona
        (prompt,) = prompts
        assert _canaries_in("\n".join(m["content"] for m in prompt)) == shown, persona
        assert _canaries_in(body.decode()) <= visible, persona


def test_sources_are_never_sent_for_a_forbidden_collection(
    indexed_world: IndexedWorld, scripted_model: type[ScriptedModel]
) -> None:
    """Asked for HR by name, the engineer gets the refusal of an empty collection: no
    sources event, no HR title, no model call."""
    hr = indexed_world.documents["handbook"].collection_id

    response = api_client(indexed_world.world, "engineer").post(
        "/api/v1/query", {"question": QUESTION, "collections": [hr], "stream": True}, format="json"
    )

    body = b"".join(response)
    assert [name for name, _ in parse_events(body)] == ["citations", "done"]
    assert _canaries_in(body.decode()) == set() and "handbook" not in body.decode()
    assert scripted_model.bodies == []


def test_stream_sends_sources_tokens_then_citations_then_done(
    indexed_world: IndexedWorld, scripted_model: type[ScriptedModel]
) -> None:
    """The framing, with a scripted answer: the small model says "I don't know" to this
    question, which is a refusal and streams no token (the real model's stream is in
    tests/integration/management/test_kb_serve.py)."""
    scripted_model.reply = f"{TOPIC} [1]"
    response = api_client(indexed_world.world, "engineer").post(
        "/api/v1/query", {"question": QUESTION, "stream": True}, format="json"
    )

    assert response["Content-Type"] == "text/event-stream"
    kinds = [kind for kind, _ in read_events(response)]
    assert kinds[0] == "sources" and kinds[-2:] == ["citations", "done"]
    assert set(kinds[1:-2]) == {"token"} and kinds[1:-2]


@pytest.mark.parametrize("persona", list(EXPECTED_VISIBLE))
def test_documents_endpoint_shows_readable_and_hides_the_rest_as_404(
    indexed_world: IndexedWorld, persona: str
) -> None:
    client = api_client(indexed_world.world, persona)

    codes = {
        title: client.get(f"/api/v1/documents/{d.pk}").status_code
        for title, d in indexed_world.documents.items()
    }

    if persona in {"anonymous", "deactivated_hr"}:
        assert set(codes.values()) == {401}  # no token / a deactivated user's token
    else:
        assert {t for t, code in codes.items() if code == 200} == EXPECTED_VISIBLE[persona]
        assert {t for t, code in codes.items() if code == 404} == (
            ALL_TITLES - EXPECTED_VISIBLE[persona]
        )


@pytest.mark.parametrize("header", [None, "Bearer qry_forged", "Bearer"])
@pytest.mark.parametrize("endpoint", ["query", "search", "feedback"])
def test_no_or_bad_token_gets_401_and_nothing_else(
    indexed_world: IndexedWorld, endpoint: str, header: str | None
) -> None:
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)

    response = client.post(
        f"/api/v1/{endpoint}",
        {"question": QUESTION, "query": QUESTION, "query_id": 1, "rating": "up"},
        format="json",
    )

    assert response.status_code == 401
    assert _canaries_in(response.content.decode()) == set()


def test_removing_a_user_from_a_group_takes_effect_on_the_next_request(
    indexed_world: IndexedWorld,
) -> None:
    client = api_client(indexed_world.world, "hr_reader")
    search = {"query": QUESTION, "top_k": 20}
    before = client.post("/api/v1/search", search, format="json").json()["results"]
    assert "handbook" in _titles(indexed_world, {r["document_id"] for r in before})

    indexed_world.world.users["hr_reader"].groups.remove(group("hr"))

    after = client.post("/api/v1/search", search, format="json").json()["results"]
    assert _titles(indexed_world, {r["document_id"] for r in after}) == {"company-news"}


def test_asking_for_a_forbidden_collection_looks_like_an_empty_one(
    indexed_world: IndexedWorld, prompts: list[list[Message]]
) -> None:
    hr = indexed_world.documents["handbook"].collection_id
    client = api_client(indexed_world.world, "engineer")

    searched = client.post(
        "/api/v1/search", {"query": QUESTION, "collections": [hr]}, format="json"
    )
    asked = client.post("/api/v1/query", {"question": QUESTION, "collections": [hr]}, format="json")

    assert searched.status_code == 200
    assert searched.json() == {"results": [], "translations": [], "translation_skipped": False}
    assert asked.status_code == 200 and asked.json()["refused"] is True
    assert asked.json()["citations"] == [] and prompts == []  # refused without the model
    assert TOPIC not in asked.content.decode()
