"""Deleting a collection (kb.services.collections.collection_delete) through every way in: the
admin (one collection, and the bulk action), the manage page and the API. Afterwards nothing of
it remains: no chunk of it in the vector index or the graph, no file of any of its versions under
MEDIA_ROOT, no citation of it in a conversation, no cached answer served from it; the other
collection keeps everything. A store that is down keeps what it holds until the sweep finishes
the job; those who may not edit the collection get 404 and delete nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from pytest_django.fixtures import Settings

from ingestion.pipeline import ingest_document
from ingestion.tasks import purge_pending_task
from kb.access import ACL_STAFF, CONSOLE
from kb.models import Collection, Document, PendingPurge, QueryLog, Turn
from kb.services.collections import collection_delete
from kb.services.conversations import exchange_record
from kb.services.documents import document_add
from kb.stores import factory
from kb.stores.factory import graph_store, vector_index
from kb.stores.types import AccessScope
from kb.uploads import IncomingFile
from tests.support import samples
from tests.support.clients import api_client_as, signed_in_as
from tests.support.factories import CollectionFactory, GroupFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Matches nothing in any document: refused before the model, its closest sources named.
QUESTION = "Qwfpgj zxcvb plugh xyzzy?"


@dataclass
class Company:
    ops: Collection  # to be deleted: edited by `editor`
    ops_ids: list[int]
    kept: Document  # in another collection, which `editor` reads
    editor: Any
    staff: Any
    entities_before_ops: int
    tmp: Path


def _ingest(collection: Collection, path: Path, name: str | None = None) -> Document:
    document, _outcome = document_add(
        collection=collection, incoming=IncomingFile(name or path.name, path), uploader=CONSOLE
    )
    assert ingest_document(document_id=document.pk, version=document.version) == "indexed"
    document.refresh_from_db()
    return document


@pytest.fixture
def company(transactional_db: None, stores: Path, tmp_path: Path, settings: Settings) -> Company:
    """Real commits (transactional_db): the purge runs once the deletion has committed."""
    settings.KB_ANSWER_CACHE_SECONDS = 600
    editors = GroupFactory.create(name="ops-editors")
    ops = CollectionFactory.create(name="Ops", editor_groups=[editors])
    other = CollectionFactory.create(name="Other", reader_groups=[editors])
    text = "Kept notes: Zanzibar Logistics ships the Falcon Gearbox every Monday."
    kept = _ingest(other, samples.text(tmp_path / "kept.txt", text))
    entities_before_ops = graph_store().count_entities()
    old = "Runbook v1: Orinoco Pumps restart the Kestrel Dam turbines at dawn."
    runbook = _ingest(ops, samples.text(tmp_path / "runbook.txt", old))
    new = samples.text(tmp_path / "runbook-2.txt", "Runbook v2: Orinoco Pumps restart at noon.")
    document_add(  # version 2 queued: version 1 is still the searchable one, and keeps its file
        collection=ops, incoming=IncomingFile("runbook.txt", new), uploader=CONSOLE
    )
    text = "Plan: the Pelican Bridge repaint by Umbra Coatings starts in March."
    plan = _ingest(ops, samples.text(tmp_path / "plan.txt", text))
    editor = UserFactory.create(username="olga", groups=[editors])
    staff = UserFactory.create(username="sam", is_staff=True)
    return Company(ops, [runbook.pk, plan.pk], kept, editor, staff, entities_before_ops, tmp_path)


def _media(collection_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "documents" / str(collection_id)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _chunks_in_stores(document_id: int) -> tuple[int, int]:
    return vector_index().count(document_id=document_id), graph_store().count_chunks(
        document_id=document_id
    )


def _collection_hits(collection_id: int) -> list[Any]:
    """Whatever the vector index still returns for the collection, to the widest scope."""
    scope = AccessScope(collection_ids=[collection_id], acl=[ACL_STAFF])
    return vector_index().query(scope=scope, limit=100, dense=[1.0] * 384)


def _ask(user: Any) -> QueryLog:
    response = api_client_as(user).post("/api/v1/query", {"question": QUESTION}, format="json")
    assert response.status_code == 200, response.content
    return QueryLog.objects.get(pk=response.json()["query_id"])


def _cite(documents: list[Document]) -> list[dict[str, Any]]:
    return [
        {"n": n, "document_id": d.pk, "title": d.title, "page": 1, "section": "", "chunk_id": "c"}
        for n, d in enumerate(documents, 1)
    ]


def via_admin(company: Company) -> int:
    url = f"/admin/kb/collection/{company.ops.pk}/delete/"
    return signed_in_as(company.staff).post(url, {"post": "yes"}).status_code


def via_admin_action(company: Company) -> int:
    form = {"action": "delete_selected", "_selected_action": [company.ops.pk], "post": "yes"}
    return signed_in_as(company.staff).post("/admin/kb/collection/", form).status_code


def via_manage_page(company: Company) -> int:
    url = f"/manage/collections/{company.ops.pk}/delete"
    return signed_in_as(company.editor).post(url).status_code


def via_api(company: Company) -> int:
    return api_client_as(company.editor).delete(f"/api/v1/collections/{company.ops.pk}").status_code


ENTRY_POINTS: dict[str, tuple[Callable[[Company], int], int]] = {
    "admin": (via_admin, 302),
    "admin bulk action": (via_admin_action, 302),
    "manage page by its editor": (via_manage_page, 302),
    "api by its editor": (via_api, 204),
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_deleting_a_collection_leaves_nothing_of_it_anywhere(company: Company, entry: str) -> None:
    # given: its documents in both stores, three files (version 1 of the runbook among them),
    # a conversation citing it and the other collection, and an answer cached over it
    ops, kept = company.ops, company.kept
    assert all(vectors and graph for vectors, graph in map(_chunks_in_stores, company.ops_ids))
    assert len(_files(_media(ops.pk))) == 3 and _collection_hits(ops.pk)
    assert graph_store().count_entities() > company.entities_before_ops
    runbook, plan = Document.objects.filter(pk__in=company.ops_ids).order_by("pk")
    conversation = exchange_record(
        user=company.editor,
        conversation_id=None,
        question="What restarts the turbines?",
        answer="Orinoco Pumps [1], see also [3].",
        refused=False,
        citations=_cite([runbook, plan, kept]),
    )
    first, second = _ask(company.editor), _ask(company.editor)
    assert (first.cached, second.cached) == (False, True)
    closest = {c[0] for c in second.retrieved["closest"]}  # cached over Ops: it names its chunks
    assert closest & {h.id for h in _collection_hits(ops.pk)}

    # when
    delete, expected_status = ENTRY_POINTS[entry]
    assert delete(company) == expected_status

    # then: no row, chunk, entity, file or citation of it; the cache does not answer from it
    assert not Collection.objects.filter(pk=ops.pk).exists()
    assert not Document.objects.filter(pk__in=company.ops_ids).exists()
    assert [_chunks_in_stores(pk) for pk in company.ops_ids] == [(0, 0), (0, 0)]
    assert _collection_hits(ops.pk) == []
    assert graph_store().count_entities() == company.entities_before_ops
    assert not _media(ops.pk).exists()  # nor the folders named after its content's SHA-256
    assert not PendingPurge.objects.exists()
    [answer] = Turn.objects.filter(conversation=conversation, role="assistant")
    assert [c["document_id"] for c in answer.citations] == [kept.pk]
    assert not _ask(company.editor).cached
    # and the other collection keeps everything
    assert _chunks_in_stores(kept.pk) == (kept.chunk_count, kept.chunk_count)
    assert Path(kept.file.path).is_file()


def test_a_store_that_is_down_keeps_the_chunks_until_the_sweep_removes_them(
    company: Company, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The rows go at once (nothing of it can be found: every hit is checked against the
    database), the purge waits, visibly, and the periodic sweep finishes it."""
    settings.QDRANT_URL = "http://127.0.0.1:9"  # a vector store that is not there
    factory.close_stores()

    with caplog.at_level(logging.WARNING, logger="ingestion.purge"):
        assert collection_delete(actor=CONSOLE, collection=company.ops) == 2

    waiting = list(PendingPurge.objects.order_by("document_id"))
    assert [p.document_id for p in waiting] == company.ops_ids
    assert all(p.attempts == 1 and "127.0.0.1:9" in p.last_error for p in waiting)
    assert "not yet purged" in caplog.text
    assert len(_files(_media(company.ops.pk))) == 3  # removed with the chunks, not before
    assert purge_pending_task() == 2  # still down: the sweep changes nothing

    settings.QDRANT_URL = ""
    factory.close_stores()
    assert purge_pending_task() == 0

    assert not PendingPurge.objects.exists()
    assert [_chunks_in_stores(pk) for pk in company.ops_ids] == [(0, 0), (0, 0)]
    assert graph_store().count_entities() == company.entities_before_ops
    assert not _media(company.ops.pk).exists()


def _reader(company: Company) -> Any:
    readers = GroupFactory.create(name="ops-readers")
    company.ops.reader_groups.add(readers)
    return UserFactory.create(username="rita", groups=[readers])


def _editor_elsewhere(company: Company) -> Any:
    group = GroupFactory.create(name="elsewhere-editors")
    CollectionFactory.create(name="Elsewhere", editor_groups=[group])
    return UserFactory.create(username="ed", groups=[group])


OUTSIDERS: dict[str, Callable[[Company], Any]] = {
    "reader of it": _reader,
    "editor of another collection": _editor_elsewhere,
    "no groups": lambda company: UserFactory.create(username="nobody"),
}


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_those_who_may_not_edit_it_get_404_like_a_missing_id_and_delete_nothing(
    company: Company, outsider: str
) -> None:
    user = OUTSIDERS[outsider](company)
    before = [_chunks_in_stores(pk) for pk in company.ops_ids]
    files = _files(_media(company.ops.pk))
    api, browser = api_client_as(user), signed_in_as(user)

    over_api = api.delete(f"/api/v1/collections/{company.ops.pk}")
    missing = api.delete("/api/v1/collections/999999")
    on_page = browser.post(f"/manage/collections/{company.ops.pk}/delete")

    assert (over_api.status_code, over_api.json()) == (missing.status_code, missing.json())
    assert over_api.status_code == 404 and on_page.status_code == 404
    assert Collection.objects.filter(pk=company.ops.pk).exists()
    assert Document.objects.filter(pk__in=company.ops_ids).count() == 2
    assert [_chunks_in_stores(pk) for pk in company.ops_ids] == before
    assert _files(_media(company.ops.pk)) == files
    assert not PendingPurge.objects.exists()
