"""`manage.py kb_reindex`: documents embedded with another model than KB_EMBED_MODEL get this
model's vectors again, through the ingest task on an embedded worker, and stay searchable
while it happens and when it fails."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings

from ingestion.pipeline import ingest_document, version_chunk_ids
from kb.access import CONSOLE
from kb.models import Collection, Document, DocumentStatus
from kb.services.documents import document_add
from kb.stores.factory import vector_index
from kb.stores.types import AccessScope, ChunkPoint
from kb.text.embeddings import load_embedder
from kb.text.sparse import SparseEncoder
from kb.uploads import IncomingFile
from tests.support import samples
from tests.support.factories import CollectionFactory

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "How do I restore a PostgreSQL backup?"
DECOY = "The lighthouse keeper paints the spiral stairs red every spring, then feeds the gulls."
OLD_MODEL = "an-older-model"


@pytest.fixture
def handbook(transactional_db: None, stores: Path) -> Collection:
    """transactional_db: the command's worker thread sees only what the test committed."""
    return CollectionFactory.create(name="Handbook")


def _indexed(collection: Collection, path: Path) -> Document:
    document, _ = document_add(
        collection=collection, incoming=IncomingFile(path.name, path), uploader=CONSOLE
    )
    assert ingest_document(document_id=document.pk, version=document.version) == "indexed"
    return Document.objects.get(pk=document.pk)


def _made_by_another_model(document: Document, settings: Settings) -> None:
    """What another model's vectors amount to for this one: they point anywhere. Here, away
    from the question, so a dense search ranks every other chunk first."""
    index, scope = vector_index(), _scope(document.collection_id)
    ids = version_chunk_ids(document.pk, document.indexed_version, document.chunk_count)
    away = [-x for x in load_embedder(settings.KB_EMBED_MODEL).encode_query(QUESTION)]
    encoder = SparseEncoder()
    index.upsert(
        [
            ChunkPoint(
                id=hit.id,
                dense=away,
                sparse=encoder.encode_document(hit.payload["text"]),
                payload=hit.payload,
            )
            for hit in index.fetch(ids=ids, scope=scope)
        ]
    )
    Document.objects.filter(pk=document.pk).update(embed_model=OLD_MODEL)


def _scope(collection_id: int) -> AccessScope:
    return AccessScope(collection_ids=[collection_id], acl=["staff"])


def _found_by_meaning(document: Document, settings: Settings) -> bool:
    """The document's chunk is the dense path's best hit for the question in its collection."""
    question = load_embedder(settings.KB_EMBED_MODEL).encode_query(QUESTION)
    hits = vector_index().query(scope=_scope(document.collection_id), limit=1, dense=question)
    return bool(hits) and hits[0].payload["document_id"] == document.pk


def _reindex(*args: str) -> str:
    err = StringIO()
    call_command("kb_reindex", *args, stdout=StringIO(), stderr=err)
    return err.getvalue()


def _backup_notes(collection: Collection, tmp_path: Path, name: str = "backup.txt") -> Document:
    document = _indexed(collection, samples.text(tmp_path / name, samples.BACKUP_TEXT * 3))
    _indexed(collection, samples.text(tmp_path / f"decoy-{name}", DECOY))
    return document


def test_a_stale_document_is_re_embedded_and_found_by_meaning_again(
    handbook: Collection, tmp_path: Path, settings: Settings
) -> None:
    document = _backup_notes(handbook, tmp_path)
    _made_by_another_model(document, settings)
    assert not _found_by_meaning(document, settings)

    output = _reindex()

    after = Document.objects.get(pk=document.pk)
    assert after.status == DocumentStatus.INDEXED and after.embed_model == settings.KB_EMBED_MODEL
    assert (after.version, after.chunk_count) == (document.version, document.chunk_count)
    assert vector_index().count(document_id=document.pk) == document.chunk_count
    assert _found_by_meaning(after, settings)
    assert f"1 documents to re-embed in all collections (1 made with {OLD_MODEL})" in output
    assert "re-embedded 1 documents, " in output and "; 0 failed." in output


def test_a_dry_run_says_what_it_would_do_and_changes_nothing(
    handbook: Collection, tmp_path: Path, settings: Settings
) -> None:
    document = _backup_notes(handbook, tmp_path)
    _made_by_another_model(document, settings)

    output = _reindex("--dry-run")

    after = Document.objects.get(pk=document.pk)
    assert (after.status, after.embed_model) == (DocumentStatus.INDEXED, OLD_MODEL)
    assert not _found_by_meaning(after, settings)
    assert f"Handbook: backup.txt ({OLD_MODEL})" in output and "nothing queued" in output


def test_a_collection_limits_the_scope(
    handbook: Collection, tmp_path: Path, settings: Settings
) -> None:
    other = CollectionFactory.create(name="Other")
    chosen = _backup_notes(handbook, tmp_path, "chosen.txt")
    left = _backup_notes(other, tmp_path, "left.txt")
    for document in (chosen, left):
        _made_by_another_model(document, settings)

    _reindex("--collection", handbook.slug)

    assert Document.objects.get(pk=chosen.pk).embed_model == settings.KB_EMBED_MODEL
    assert Document.objects.get(pk=left.pk).embed_model == OLD_MODEL
    assert _found_by_meaning(chosen, settings) and not _found_by_meaning(left, settings)


def test_a_document_that_no_longer_parses_keeps_its_previous_vectors(
    handbook: Collection, tmp_path: Path, settings: Settings
) -> None:
    path = samples.text_pdf(tmp_path / "backup.pdf", [("Backups", samples.BACKUP_TEXT * 3)])
    document = _indexed(handbook, path)
    Document.objects.filter(pk=document.pk).update(embed_model=OLD_MODEL)
    Path(document.file.path).write_bytes(b"%PDF-1.4 not really")  # the stored file broke

    with pytest.raises(CommandError, match="1 of 1 documents failed"):
        _reindex()

    after = Document.objects.get(pk=document.pk)
    assert after.status == DocumentStatus.FAILED and after.error
    assert (after.indexed_version, after.embed_model) == (document.version, OLD_MODEL)
    assert vector_index().count(document_id=document.pk) == document.chunk_count
    assert _found_by_meaning(after, settings)  # still searchable, with the vectors it had


def test_a_document_that_now_parses_into_fewer_chunks_keeps_none_of_the_old_extra_ones(
    handbook: Collection, tmp_path: Path, settings: Settings
) -> None:
    # given: a document made by another model, whose file now chunks into fewer pieces (the
    # parser or chunker changed between releases)
    document = _indexed(handbook, samples.text(tmp_path / "backup.txt", samples.BACKUP_TEXT * 30))
    _indexed(handbook, samples.text(tmp_path / "decoy.txt", DECOY))
    _made_by_another_model(document, settings)
    Path(document.file.path).write_text(samples.BACKUP_TEXT, encoding="utf-8")

    # when
    _reindex()

    # then: only the chunks this parse wrote are stored, all with this model's vectors
    after = Document.objects.get(pk=document.pk)
    assert after.status == DocumentStatus.INDEXED and after.version == document.version
    assert 0 < after.chunk_count < document.chunk_count
    assert vector_index().count(document_id=document.pk) == after.chunk_count
    ids = version_chunk_ids(document.pk, document.version, document.chunk_count)
    stored = vector_index().fetch(ids=ids, scope=_scope(document.collection_id))
    assert sorted(h.id for h in stored) == sorted(ids[: after.chunk_count])
    assert _found_by_meaning(after, settings)
