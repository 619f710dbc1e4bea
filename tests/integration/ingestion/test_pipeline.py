"""The ingestion pipeline on real files, the real parser, model and embedded stores."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from pytest_django.fixtures import Settings

from ingestion import pipeline, progress
from ingestion.pipeline import ingest_document, version_chunk_ids
from kb.access import CONSOLE, group_acl
from kb.models import Collection, Document, DocumentStatus
from kb.services.documents import AddOutcome, document_add, document_delete, document_retry
from kb.stores.errors import StoreError
from kb.stores.factory import graph_store, vector_index
from kb.stores.types import AccessScope, ChunkPoint
from kb.text.llm_entities import RuleEntityExtractor
from kb.uploads import IncomingFile
from tests.support import samples
from tests.support.factories import CollectionFactory, GroupFactory
from tests.support.outages import fail_once

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CJK = samples.CJK_FONT


@pytest.fixture
def collection(db: None, stores: Path) -> Collection:
    return CollectionFactory.create(name="Ops")


def _ingest(collection: Collection, path: Path, name: str | None = None) -> Document:
    document, _outcome = document_add(
        collection=collection,
        incoming=IncomingFile(name=name or path.name, path=path),
        uploader=CONSOLE,
    )
    ingest_document(document_id=document.pk, version=document.version)
    document.refresh_from_db()
    return document


def _stored_texts(document: Document) -> list[str]:
    hits = vector_index().query(scope=_scope(document), limit=1000, sparse=None, dense=[1.0] * 384)
    return [h.payload["text"] for h in hits if h.payload["document_id"] == document.pk]


def _scope(document: Document):
    from kb.stores.types import AccessScope

    return AccessScope(collection_ids=[document.collection_id], acl=["staff"])


def _assert_fully_indexed(document: Document) -> None:
    assert document.status == DocumentStatus.INDEXED, document.error
    assert document.progress == 100 and document.indexed_version == document.version
    assert document.chunk_count > 0
    assert vector_index().count(document_id=document.pk) == document.chunk_count
    assert graph_store().count_chunks(document_id=document.pk) == document.chunk_count


MAKERS = {
    "pdf": lambda d: samples.text_pdf(
        d / "guide.pdf",
        [
            ("Installation", "Install the package with apt. " * 20),
            ("Backup", samples.BACKUP_TEXT * 10),
        ],
    ),
    "docx": lambda d: samples.docx(d / "policy.docx"),
    "doc": lambda d: samples.doc(d / "policy.doc"),
    "epub": lambda d: samples.epub(d / "log.epub"),
    "xlsx": lambda d: samples.xlsx(d / "servers.xlsx"),
    "pptx": lambda d: samples.pptx(d / "plan.pptx"),
    "csv": lambda d: samples.csv_file(d / "people.csv"),
    "html": lambda d: samples.html(d / "mail.html"),
    "markdown": lambda d: samples.markdown(d / "deploy.md"),
    "text": lambda d: samples.text(d / "notes.txt", samples.BACKUP_TEXT * 5),
    "png-ocr": lambda d: samples.png(
        d / "scan.png", ["Quarterly Report", "Revenue grew by twelve percent."]
    ),
    "scanned-pdf-ru": lambda d: samples.scanned_pdf(
        d / "scan.pdf",
        [["Annual report"], ["Годовой отчёт", "Выручка выросла на двенадцать процентов."]],
    ),
    "png-ocr-zh": lambda d: samples.png(
        d / "zh.png", ["年度报告", "第三季度收入增长了百分之十二。"], font=CJK
    ),
}
EXPECTED_TEXT = {
    "pdf": "write-ahead log",
    "docx": "thirty days",
    "doc": "thirty days",
    "epub": "lighthouse keeper",
    "xlsx": "replica",
    "pptx": "Disk runs full",
    "csv": "Борис",
    "html": "SpamAssassin",
    "markdown": "nginx",
    "text": "base backup",
    "png-ocr": "twelve percent",
    "scanned-pdf-ru": "Выручка выросла",
    "png-ocr-zh": "收入增长",
}


@pytest.mark.parametrize("kind", list(MAKERS), ids=list(MAKERS))
def test_each_supported_format_is_indexed_with_its_text(
    collection: Collection, tmp_path: Path, kind: str
) -> None:
    path = MAKERS[kind](tmp_path)

    document = _ingest(collection, path)

    _assert_fully_indexed(document)
    assert any(EXPECTED_TEXT[kind] in text for text in _stored_texts(document))


def test_pdf_pages_and_sections_are_kept(collection: Collection, tmp_path: Path) -> None:
    path = MAKERS["pdf"](tmp_path)

    document = _ingest(collection, path)

    hits = vector_index().query(scope=_scope(document), limit=100, dense=[1.0] * 384)
    pages = {h.payload["page"] for h in hits}
    assert document.page_count == 2 and pages == {1, 2}
    backup = [h.payload for h in hits if "write-ahead" in h.payload["text"]]
    assert backup and all(p["page"] == 2 and "Backup" in p["section"] for p in backup)


def test_a_pdf_s_printed_page_labels_are_stored_beside_the_physical_page(
    collection: Collection, tmp_path: Path
) -> None:
    pages = [("Preface", "This book is about backups."), ("Backup", samples.BACKUP_TEXT)]
    path = samples.labelled_pdf(tmp_path / "book.pdf", pages, front_matter=1)

    document = _ingest(collection, path)

    hits = vector_index().query(scope=_scope(document), limit=100, dense=[1.0] * 384)
    labels = {(h.payload["page"], h.payload["page_label"]) for h in hits}
    assert labels == {(1, "i"), (2, "1")}  # `page` stays physical: it opens the PDF there
    plain = _ingest(collection, MAKERS["pdf"](tmp_path))
    hits = vector_index().query(scope=_scope(plain), limit=100, dense=[1.0] * 384)
    assert {h.payload["page_label"] for h in hits if h.payload["document_id"] == plain.pk} == {""}


def test_a_table_keeps_its_header_row(collection: Collection, tmp_path: Path) -> None:
    document = _ingest(collection, samples.xlsx(tmp_path / "servers.xlsx"))

    assert any("host | role | city" in text for text in _stored_texts(document))


def test_ocr_progress_is_recorded_page_by_page(
    collection: Collection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "MIN_INTERVAL_S", 0.0)  # every report written, however quick
    path = samples.scanned_pdf(
        tmp_path / "scan.pdf", [["Annual report"], ["Revenue grew by twelve percent."]]
    )
    stages: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith("UPDATE") and params:
            stages.extend(p for p in params if isinstance(p, str) and "OCR page" in p)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        document = _ingest(collection, path)

    _assert_fully_indexed(document)
    assert stages == ["parsing: OCR page 1 of 2", "parsing: OCR page 2 of 2"]


def test_a_pdf_is_cited_by_its_own_title_unless_someone_chose_one(
    collection: Collection, tmp_path: Path
) -> None:
    pages = [("Installation", "Install the widget with apt."), ("Backup", samples.BACKUP_TEXT)]
    path = samples.text_pdf(tmp_path / "wm_v2_final.pdf", pages, title="Widget Manual 2.1")

    document = _ingest(collection, path)

    _assert_fully_indexed(document)
    hits = vector_index().query(scope=_scope(document), limit=100, dense=[1.0] * 384)
    assert document.title == "Widget Manual 2.1"
    assert {h.payload["title"] for h in hits} == {"Widget Manual 2.1"}

    Document.objects.filter(pk=document.pk).update(title="Widget handbook (ops)")
    newer = samples.text_pdf(tmp_path / "next.pdf", [*pages, ("Upgrade", "Run apt upgrade.")])
    again = _ingest(collection, newer, name="wm_v2_final.pdf")

    assert again.pk == document.pk and again.version == 2
    assert again.title == "Widget handbook (ops)"


BAD_INPUTS = {
    "empty": (lambda d: samples.text(d / "empty.txt", ""), "The file is empty."),
    "corrupt-pdf": (
        lambda d: samples.text(d / "broken.pdf", "%PDF-1.4 garbage \x00\x01"),
        "damaged or not a PDF",
    ),
    "password-pdf": (lambda d: samples.encrypted_pdf(d / "locked.pdf"), "password-protected"),
    "no-text-pdf": (lambda d: samples.blank_pdf(d / "blank.pdf"), "No text could be extracted"),
    "unsupported": (lambda d: _elf(d / "tool.exe"), "not supported"),
}


def _elf(path: Path) -> Path:
    path.write_bytes(Path("/bin/true").read_bytes())
    return path


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_fails_with_a_reason_and_leaves_nothing_indexed(
    collection: Collection, tmp_path: Path, case: str
) -> None:
    make, reason = BAD_INPUTS[case]

    document = _ingest(collection, make(tmp_path))

    assert document.status == DocumentStatus.FAILED
    assert reason in document.error
    assert vector_index().count(document_id=document.pk) == 0
    assert graph_store().count_chunks(document_id=document.pk) == 0


@pytest.mark.parametrize(
    ("name", "maker"),
    [
        ("scan.pdf", lambda d: samples.png(d / "x.png", ["Quarterly Report"])),
        ("notes.docx", lambda d: samples.text(d / "x.txt", "Plain text with a docx name.")),
    ],
    ids=["png-named-pdf", "text-named-docx"],
)
def test_a_wrong_extension_is_read_by_its_content(
    collection: Collection, tmp_path: Path, name: str, maker
) -> None:
    document = _ingest(collection, maker(tmp_path), name=name)

    _assert_fully_indexed(document)


def test_indexing_records_the_embedding_model_with_the_version(
    collection: Collection, tmp_path: Path, settings: Settings
) -> None:
    v1 = _ingest(collection, samples.text_pdf(tmp_path / "p.pdf", [("Rules", "Keep it tidy.")]))
    assert v1.embed_model == settings.KB_EMBED_MODEL
    Document.objects.filter(pk=v1.pk).update(embed_model="an-older-model")
    broken = samples.text(tmp_path / "broken.pdf", "%PDF-1.4 not really")
    v2, _ = document_add(
        collection=collection, incoming=IncomingFile("p.pdf", broken), uploader=CONSOLE
    )

    ingest_document(document_id=v2.pk, version=v2.version)

    v2.refresh_from_db()  # the searchable version is still v1, made by the older model
    assert v2.indexed_version == v1.version and v2.embed_model == "an-older-model"


def test_a_redelivered_task_changes_nothing(collection: Collection, tmp_path: Path) -> None:
    document = _ingest(collection, MAKERS["text"](tmp_path))
    count = vector_index().count()

    again = ingest_document(document_id=document.pk, version=document.version)

    assert again == "skipped"
    assert vector_index().count() == count


def test_a_retry_after_a_lost_commit_does_not_duplicate_chunks(
    collection: Collection, tmp_path: Path
) -> None:
    document = _ingest(collection, MAKERS["pdf"](tmp_path))
    entities = graph_store().count_entities()
    # the worker died after writing but before its commit reached the database
    Document.objects.filter(pk=document.pk).update(status=DocumentStatus.PROCESSING)

    assert ingest_document(document_id=document.pk, version=document.version) == "indexed"

    _assert_fully_indexed(Document.objects.get(pk=document.pk))
    assert graph_store().count_entities() == entities


def test_a_same_version_retry_with_fewer_chunks_leaves_none_of_the_old_extra_ones(
    collection: Collection, tmp_path: Path
) -> None:
    # given: a document indexed as several chunks, whose file now parses into fewer (as after
    # a parser or chunker change between releases)
    document = _ingest(collection, samples.text(tmp_path / "n.txt", samples.BACKUP_TEXT * 30))
    before = document.chunk_count
    Path(document.file.path).write_text(samples.BACKUP_TEXT, encoding="utf-8")

    # when: it is queued again as the same version, as kb_reindex and the retry button do
    document_retry(document=document)
    assert ingest_document(document_id=document.pk, version=document.version) == "indexed"

    # then: the index holds exactly the chunks this parse wrote
    after = Document.objects.get(pk=document.pk)
    assert after.version == document.version and 0 < after.chunk_count < before
    _assert_fully_indexed(after)
    gone = version_chunk_ids(document.pk, document.version, before)[after.chunk_count :]
    assert vector_index().fetch(ids=gone, scope=_scope(after)) == []
    assert len(_stored_texts(after)) == after.chunk_count


class _BrokenExtractor:
    def extract(self, text: str) -> Any:
        raise RuntimeError("the extractor crashed")


def test_a_failed_same_version_retry_leaves_only_the_indexed_chunks(
    collection: Collection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a one-chunk document whose file now parses into several, and a graph writer that
    # fails once the retry's vectors are written
    document = _ingest(collection, samples.text(tmp_path / "n.txt", samples.BACKUP_TEXT))
    Path(document.file.path).write_text(samples.BACKUP_TEXT * 30, encoding="utf-8")
    monkeypatch.setattr(pipeline, "entity_extractor", _BrokenExtractor)

    # when
    document_retry(document=document)
    assert ingest_document(document_id=document.pk, version=document.version) == "failed"

    # then: both stores hold the indexed chunks, and none of the failed attempt's extra ones
    after = Document.objects.get(pk=document.pk)
    assert after.status == DocumentStatus.FAILED and after.chunk_count == document.chunk_count
    assert vector_index().count(document_id=document.pk) == document.chunk_count
    assert graph_store().count_chunks(document_id=document.pk) == document.chunk_count


def test_identical_content_is_a_no_op(collection: Collection, tmp_path: Path) -> None:
    path = MAKERS["text"](tmp_path)
    first = _ingest(collection, path)

    again, outcome = document_add(
        collection=collection, incoming=IncomingFile("copy.txt", path), uploader=CONSOLE
    )

    assert outcome == AddOutcome.UNCHANGED and again.pk == first.pk
    assert Document.objects.count() == 1


def test_a_new_version_replaces_the_old_only_once_written(
    collection: Collection, tmp_path: Path
) -> None:
    v1 = _ingest(collection, samples.text(tmp_path / "a.txt", "Old policy: keep backups a week."))
    new_path = samples.text(tmp_path / "b.txt", "New policy: keep backups thirty days.")
    v2, outcome = document_add(
        collection=collection, incoming=IncomingFile("a.txt", new_path), uploader=CONSOLE
    )
    assert outcome == AddOutcome.NEW_VERSION and v2.pk == v1.pk and v2.version == 2
    assert any("Old policy" in t for t in _stored_texts(v2))  # still searchable meanwhile

    ingest_document(document_id=v2.pk, version=2)

    v2.refresh_from_db()
    _assert_fully_indexed(v2)
    texts = _stored_texts(v2)
    assert any("New policy" in t for t in texts) and not any("Old policy" in t for t in texts)


def test_a_failed_new_version_keeps_the_old_one_searchable(
    collection: Collection, tmp_path: Path
) -> None:
    v1 = _ingest(collection, samples.text_pdf(tmp_path / "p.pdf", [("Rules", "Keep it tidy.")]))
    broken = samples.text(tmp_path / "broken.pdf", "%PDF-1.4 not really")
    v2, _ = document_add(
        collection=collection, incoming=IncomingFile("p.pdf", broken), uploader=CONSOLE
    )

    ingest_document(document_id=v2.pk, version=v2.version)

    v2.refresh_from_db()
    assert v2.status == DocumentStatus.FAILED and v2.indexed_version == v1.version
    assert any("Keep it tidy" in t for t in _stored_texts(v2))
    assert vector_index().count(document_id=v2.pk) == v1.chunk_count


def test_deleting_a_document_removes_it_from_every_store(
    collection: Collection, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    document = _ingest(collection, MAKERS["pdf"](tmp_path))
    document_id = document.pk

    with django_capture_on_commit_callbacks(execute=True):  # the purge runs after commit
        document_delete(document=document)

    assert not Document.objects.filter(pk=document_id).exists()
    assert vector_index().count(document_id=document_id) == 0
    assert graph_store().count_chunks(document_id=document_id) == 0


def test_a_stale_task_for_an_older_version_does_nothing(
    collection: Collection, tmp_path: Path
) -> None:
    v1 = _ingest(collection, samples.text(tmp_path / "a.txt", "First."))
    document_add(
        collection=collection,
        incoming=IncomingFile("a.txt", samples.text(tmp_path / "b.txt", "Second.")),
        uploader=CONSOLE,
    )

    assert ingest_document(document_id=v1.pk, version=1) == "skipped"


# --- a store outage after the commit -----------------------------------------------------------

OLD_POLICY = "Old policy: keep backups a week, then the tapes go to the vault. " * 40


def _new_version(collection: Collection, tmp_path: Path, name: str) -> Document:
    """Version 2 of `name`, queued: version 1 (OLD_POLICY, several chunks) is the indexed one."""
    _ingest(collection, samples.text(tmp_path / "v1.txt", OLD_POLICY), name=name)
    new = samples.text(tmp_path / "v2.txt", "New policy: keep backups thirty days.")
    document, outcome = document_add(
        collection=collection, incoming=IncomingFile(name, new), uploader=CONSOLE
    )
    assert outcome == AddOutcome.NEW_VERSION and document.version == 2
    return document


def test_a_clean_up_outage_before_the_last_try_is_retried_and_the_retry_drops_the_old_version(
    collection: Collection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: version 2 written and committed, and the vector index down when version 1's chunks
    # are to be dropped
    document = _new_version(collection, tmp_path, "policy.txt")
    old = version_chunk_ids(document.pk, 1, Document.objects.get(pk=document.pk).chunk_count)
    failed = fail_once(monkeypatch, vector_index(), "delete_points")
    with pytest.raises(StoreError):
        ingest_document(document_id=document.pk, version=2)  # the task retries
    assert failed and Document.objects.get(pk=document.pk).indexed_version == 2

    # when: the retried task runs
    assert ingest_document(document_id=document.pk, version=2) == "skipped"

    # then: both stores hold version 2's chunks only
    after = Document.objects.get(pk=document.pk)
    _assert_fully_indexed(after)
    assert len(old) > 1 and vector_index().fetch(ids=old, scope=_scope(after)) == []
    texts = _stored_texts(after)
    assert any("New policy" in t for t in texts) and not any("Old policy" in t for t in texts)


def test_a_clean_up_outage_on_the_last_try_leaves_the_new_version_indexed(
    collection: Collection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given: the vector index down when version 1's chunks are to be dropped, on the last try
    document = _new_version(collection, tmp_path, "policy.txt")
    fail_once(monkeypatch, vector_index(), "delete_points")

    # when
    with caplog.at_level(logging.ERROR, logger="ingestion.pipeline"):
        outcome = ingest_document(document_id=document.pk, version=2, final_try=True)

    # then: version 2 is indexed and searchable in both stores; the log says what may remain
    after = Document.objects.get(pk=document.pk)
    assert outcome == "indexed"
    assert after.status == DocumentStatus.INDEXED and after.error == ""
    assert after.indexed_version == 2 and after.chunk_count > 0
    new = version_chunk_ids(document.pk, 2, after.chunk_count)
    assert len(vector_index().fetch(ids=new, scope=_scope(after))) == after.chunk_count
    assert graph_store().count_chunks(document_id=document.pk) >= after.chunk_count
    assert any("New policy" in t for t in _stored_texts(after))
    assert "may remain until it is next indexed" in caplog.text


def test_readers_changed_while_writing_are_stamped_by_the_retry_when_the_restamp_failed(
    collection: Collection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a collection read by sales; while the document's chunks are written, its readers
    # are narrowed to ops, and the vector index is down for the restamp after the commit
    sales, ops = GroupFactory.create(name="sales"), GroupFactory.create(name="ops")
    collection.reader_groups.set([sales])
    path = samples.text(tmp_path / "n.txt", samples.BACKUP_TEXT)
    document, _ = document_add(
        collection=collection, incoming=IncomingFile("n.txt", path), uploader=CONSOLE
    )
    write = pipeline._write_vectors

    def narrowed_meanwhile(points: list[ChunkPoint]) -> None:
        document.reader_groups.set([ops])
        write(points)

    monkeypatch.setattr(pipeline, "_write_vectors", narrowed_meanwhile)
    failed = fail_once(monkeypatch, vector_index(), "set_acl")
    with pytest.raises(StoreError):
        ingest_document(document_id=document.pk, version=document.version)
    assert failed

    # when: the retried task runs
    assert ingest_document(document_id=document.pk, version=document.version) == "skipped"

    # then: sales, removed while the chunks were written, reads none of them in either store
    after = Document.objects.get(pk=document.pk)
    ids = version_chunk_ids(document.pk, after.indexed_version, after.chunk_count)
    keys = [e.key for e in RuleEntityExtractor().extract(samples.BACKUP_TEXT).entities]

    def readable(group_id: int) -> tuple[int, int]:
        scope = AccessScope(collection_ids=[collection.pk], acl=[group_acl(group_id)])
        graph = graph_store().neighbourhood(entity_keys=keys, scope=scope, hops=0, limit=100)
        return len(vector_index().fetch(ids=ids, scope=scope)), len(graph)

    assert keys and after.chunk_count > 0
    assert readable(sales.pk) == (0, 0)
    assert readable(ops.pk)[0] == after.chunk_count and readable(ops.pk)[1] > 0
