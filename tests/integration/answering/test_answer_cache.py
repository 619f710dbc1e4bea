"""Identical questions over the same readable scope are answered from the cache; the key
holds the caller's access, and uploads and access changes invalidate what they touch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from pytest_django.fixtures import Settings

from ingestion.pipeline import ingest_document, restamp_document
from kb.access import CONSOLE
from kb.llm.chat import Message
from kb.models import QueryLog
from kb.services.documents import document_add, document_delete
from kb.uploads import IncomingFile
from tests.support import samples
from tests.support.clients import api_client
from tests.support.personas import IndexedWorld, group

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.llm]

QUESTION = "Who descales the office coffee machine?"  # the small test model answers this


@pytest.fixture(autouse=True)
def answer_cache(settings: Settings) -> Iterator[None]:
    settings.KB_ANSWER_CACHE_SECONDS = 600
    cache.clear()
    yield
    cache.clear()


def _ask(indexed: IndexedWorld, persona: str, question: str = QUESTION) -> QueryLog:
    client = api_client(indexed.world, persona)
    response = client.post("/api/v1/query", {"question": question}, format="json")
    assert response.status_code == 200
    return QueryLog.objects.get(pk=response.json()["query_id"])


def test_the_same_question_in_the_same_scope_is_answered_from_the_cache(
    indexed_world: IndexedWorld, prompts: list[list[Message]]
) -> None:
    first = _ask(indexed_world, "engineer")
    second = _ask(indexed_world, "engineer", "  who descales the OFFICE coffee machine? ")

    assert len(prompts) == 1  # the model answered once
    assert (first.cached, second.cached) == (False, True)
    assert (second.answer_redacted, second.refused) == (first.answer_redacted, first.refused)
    assert second.retrieved["passages"] == first.retrieved["passages"]


def test_a_cached_answer_keeps_its_checked_claims(
    indexed_world: IndexedWorld, prompts: list[list[Message]]
) -> None:
    client = api_client(indexed_world.world, "engineer")
    first, second = (
        client.post("/api/v1/query", {"question": QUESTION}, format="json").json() for _ in range(2)
    )

    assert len(prompts) == 1 and not first["refused"]  # precondition: answered, then cached
    assert first["claims"] and second["claims"] == first["claims"]
    assert all(first["answer"][c["start"] : c["end"]] == c["text"] for c in first["claims"])


def test_users_who_read_different_documents_never_share_an_answer(
    indexed_world: IndexedWorld, prompts: list[list[Message]]
) -> None:
    _ask(indexed_world, "hr_lead")  # reads salaries
    reader = _ask(indexed_world, "hr_reader")  # does not

    assert len(prompts) == 2 and not reader.cached
    assert "CANARY-SALARIES" not in "\n".join(m["content"] for m in prompts[1])


def test_an_upload_to_a_collection_in_scope_invalidates(
    indexed_world: IndexedWorld, prompts: list[list[Message]], tmp_path: Path
) -> None:
    _ask(indexed_world, "engineer")
    engineering = indexed_world.documents["runbook"].collection
    path = samples.text(tmp_path / "descaling.txt", "Descaling moved to Thursdays in 2027.")
    new, _ = document_add(
        collection=engineering, incoming=IncomingFile("descaling.txt", path), uploader=CONSOLE
    )
    assert ingest_document(document_id=new.pk, version=new.version) == "indexed"

    again = _ask(indexed_world, "engineer")

    assert not again.cached and len(prompts) == 2


def test_access_changes_and_deletions_invalidate(
    indexed_world: IndexedWorld, prompts: list[list[Message]]
) -> None:
    _ask(indexed_world, "hr_lead")
    salaries = indexed_world.documents["salaries"]
    salaries.reader_groups.set([group("hr")])  # widened, as the admin would
    restamp_document(document_id=salaries.pk)
    after_restamp = _ask(indexed_world, "hr_lead")
    document_delete(document=indexed_world.documents["payroll-policy"])
    after_delete = _ask(indexed_world, "hr_lead")

    assert not after_restamp.cached and not after_delete.cached
    assert len(prompts) == 3


def test_a_new_prompt_budget_is_not_answered_from_answers_made_at_the_old_one(
    indexed_world: IndexedWorld, prompts: list[list[Message]], settings: Settings
) -> None:
    settings.KB_PROMPT_TOKEN_BUDGET = 0
    first = _ask(indexed_world, "engineer")
    settings.KB_PROMPT_TOKEN_BUDGET = 500
    second = _ask(indexed_world, "engineer")

    assert (first.cached, second.cached) == (False, False)
    assert len(prompts) == 2


def test_other_translation_settings_are_not_answered_from_answers_made_with_the_old_ones(
    indexed_world: IndexedWorld, prompts: list[list[Message]], settings: Settings
) -> None:
    settings.KB_TRANSLATE_INTO = ["latin"]
    first = _ask(indexed_world, "engineer")
    settings.KB_TRANSLATE_INTO = ["latin", "han", "cyrillic"]
    second = _ask(indexed_world, "engineer")
    third = _ask(indexed_world, "engineer")

    assert (first.cached, second.cached, third.cached) == (False, False, True)
    assert len(prompts) == 2
