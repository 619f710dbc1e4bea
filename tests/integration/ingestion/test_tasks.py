"""The ingest task as the worker runs it (eagerly here): its retries, and what follows an
indexed version."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.pipeline import version_chunk_ids
from ingestion.tasks import ingest_document_task
from kb.access import CONSOLE
from kb.models import Document, DocumentStatus
from kb.services.documents import AddOutcome, document_add
from kb.stores.factory import graph_store, vector_index
from kb.stores.types import AccessScope
from kb.uploads import IncomingFile
from tests.support import samples
from tests.support.factories import CollectionFactory
from tests.support.outages import fail_once

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_store_outage_after_the_commit_is_retried_until_the_old_version_is_gone(
    db: None, stores: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: version 1 indexed by the task, version 2 uploaded, and the vector index down once
    # when version 1's chunks are to be dropped after version 2's commit
    collection = CollectionFactory.create(name="Ops")
    old_text = samples.text(tmp_path / "v1.txt", "Old rota: Alice covers Monday nights. " * 60)
    v1, _ = document_add(
        collection=collection, incoming=IncomingFile("rota.txt", old_text), uploader=CONSOLE
    )
    assert ingest_document_task.apply(args=(v1.pk, 1)).get() == "indexed"
    v1.refresh_from_db()
    old_ids, old_file = version_chunk_ids(v1.pk, 1, v1.chunk_count), Path(v1.file.path)
    new_text = samples.text(tmp_path / "v2.txt", "New rota: Bob covers Monday nights.")
    v2, outcome = document_add(
        collection=collection, incoming=IncomingFile("rota.txt", new_text), uploader=CONSOLE
    )
    assert outcome == AddOutcome.NEW_VERSION and v2.version == 2
    failed = fail_once(monkeypatch, vector_index(), "delete_points")

    # when: the task runs, and is retried as Celery retries a StoreError
    result = ingest_document_task.apply(args=(v2.pk, 2))

    # then: the retry found version 2 indexed and finished its clean-up: nothing of version 1
    # is left in the stores or on disk
    assert failed and result.get() == "skipped"
    after = Document.objects.get(pk=v2.pk)
    assert after.status == DocumentStatus.INDEXED and after.indexed_version == 2
    assert vector_index().count(document_id=v2.pk) == after.chunk_count
    assert graph_store().count_chunks(document_id=v2.pk) == after.chunk_count
    scope = AccessScope(collection_ids=[collection.pk], acl=["staff"])
    assert vector_index().fetch(ids=old_ids, scope=scope) == []
    assert not old_file.exists() and Path(after.file.path).exists()
