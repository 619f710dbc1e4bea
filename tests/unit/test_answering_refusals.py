"""A refusal's reason and closest sources on the way out of kb.answering: the answer cache keeps
them and post-checks the closest sources' documents like the passages', the query log records
them, and the REST API returns and documents them. The answerer is not run: refusals are built
as retrieval.answerer builds them."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.cache import cache
from pytest_django.fixtures import Settings

from kb.answer_cache import remember_answer
from kb.answering import Finished, _from_cache, _log
from kb.api import answers
from kb.models import QueryLog
from retrieval.answerer import Answer
from retrieval.evidence import NO_EVIDENCE
from retrieval.refusals import RefusalReason, refusal_text
from retrieval.retriever import Retrieval
from retrieval.types import Passage
from tests.support.clients import api_client
from tests.support.personas import World

pytestmark = pytest.mark.unit

QUESTION = "Which encryption protects the backups?"
KEY = "kb:answer:test-refusal"
READABLE, GONE = 11, 12  # document ids


def source(n: int, document_id: int, section: str) -> Passage:
    return Passage(n, f"chunk-{n}", document_id, f"doc-{document_id}", 4, section, "…", 0.4, ())


def refusal(closest: list[Passage], reason: RefusalReason = RefusalReason.NOT_ANSWERABLE) -> Answer:
    passages = [source(1, READABLE, "Backups"), source(2, READABLE, "Restore")]
    return Answer(
        QUESTION,
        refusal_text(QUESTION, closest),
        True,
        passages,
        [],
        Retrieval({}, passages, NO_EVIDENCE),
        refusal=reason,
        closest=closest,
    )


def served(allowed: Any) -> Answer | None:
    return _from_cache(KEY, QUESTION, "answer-v1", allowed, time.perf_counter())


@pytest.fixture
def answer_cache(settings: Settings) -> None:
    settings.KB_ANSWER_CACHE_SECONDS = 600


# --- the answer cache -------------------------------------------------------------------------


def test_a_cached_refusal_comes_back_with_its_reason_and_closest_sources(
    answer_cache: None,
) -> None:
    closest = [source(1, READABLE, "Backups"), source(3, GONE, "Keys")]
    remember_answer(KEY, refusal(closest))

    hit = served(lambda ids: set(ids))

    assert hit is not None and hit.refused
    assert hit.refusal is RefusalReason.NOT_ANSWERABLE
    assert hit.closest == closest and hit.text == refusal_text(QUESTION, closest)


def test_a_cached_refusal_naming_a_document_no_longer_readable_is_not_served(
    answer_cache: None,
) -> None:
    """Its passages are all readable; only a closest source's document is not, any more."""
    remember_answer(KEY, refusal([source(1, READABLE, "Backups"), source(3, GONE, "Keys")]))

    assert served(lambda ids: set(ids) - {GONE}) is None
    assert served(lambda ids: set(ids)) is not None  # the same entry, while still readable


def test_an_entry_cached_before_refusals_named_their_sources_is_a_miss(answer_cache: None) -> None:
    remember_answer(KEY, refusal([]))
    entry = cache.get(KEY)
    del entry["closest"]
    cache.set(KEY, entry)

    assert served(lambda ids: set(ids)) is None


# --- the query log ----------------------------------------------------------------------------


def test_the_query_log_keeps_the_reason_and_the_closest_chunks(world: World) -> None:
    closest = [source(3, GONE, "Keys")]

    row = _log(world.users["engineer"], QUESTION, [1], refusal(closest, RefusalReason.DECLINED))

    row.refresh_from_db()
    assert (row.refused, row.refusal) == (True, "declined")
    assert row.retrieved["closest"] == [["chunk-3", 0.4]]


# --- the REST API -----------------------------------------------------------------------------


def test_the_api_returns_a_refusals_reason_and_closest_sources(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    closest = [source(1, READABLE, "Backups")]
    finished = Finished(refusal(closest, RefusalReason.NO_EVIDENCE), QueryLog(pk=5))
    monkeypatch.setattr(answers, "answer_question", lambda **_ask: finished)

    response = api_client(world, "engineer").post(
        "/api/v1/query", {"question": QUESTION}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {
        "query_id": 5,
        "answer": refusal_text(QUESTION, closest),
        "refused": True,
        "refusal": "no_evidence",
        "check": "",
        "citations": [],
        "claims": [],
        "closest": [
            {
                "n": 1,
                "document_id": READABLE,
                "title": f"doc-{READABLE}",
                "page": 4,
                "page_label": "",
                "section": "Backups",
                "chunk_id": "chunk-1",
            }
        ],
        "gap": "",
    }


def test_the_openapi_document_describes_refusal_and_closest(world: World) -> None:
    schema = api_client(world, "engineer").get("/api/v1/schema?format=json").json()

    out = schema["components"]["schemas"]["QueryOut"]["properties"]
    assert {"refusal", "closest", "claims", "gap"} <= set(out)
    assert "no_evidence" in out["refusal"]["description"]
    stream = schema["paths"]["/api/v1/query"]["post"]["responses"]["200"]["description"]
    assert "refusal, closest" in stream and "replace it with `done`'s `answer`" in stream


def test_the_openapi_document_says_where_each_claim_stands_in_the_answer(world: World) -> None:
    schema = api_client(world, "engineer").get("/api/v1/schema?format=json").json()

    claim = schema["components"]["schemas"]["ClaimOut"]["properties"]
    assert {"text", "supported", "passages", "start", "end"} <= set(claim)
    assert "code points" in claim["start"]["description"] and claim["end"]["nullable"]
