"""Writes on documents: uploads, versions, retries, deletion. Indexing itself happens in
ingestion tasks, enqueued only once the transaction that created the work has committed."""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import tempfile
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import QuerySet

from ingestion.purge import purges_run
from ingestion.queueing import INGEST_DOCUMENT, RESTAMP_DOCUMENT, WAITING_FOR_QUEUE
from ingestion.titles import filename_title
from kb import access
from kb.access import Writer
from kb.celery import app
from kb.models import (
    Collection,
    Document,
    DocumentStatus,
    PendingPurge,
    collection_content_changed,
)
from kb.services.conversations import conversations_forget_documents
from kb.uploads import (
    IncomingFile,
    Upload,
    UploadLimits,
    UploadRejected,
    receive,
    stored_name,
)

logger = logging.getLogger(__name__)
HASH_BLOCK = 1024 * 1024
DELETE_BATCH = 500


class AddOutcome(StrEnum):
    CREATED = "created"
    NEW_VERSION = "new_version"
    UNCHANGED = "unchanged"


def upload_limits() -> UploadLimits:
    """The limits every way in (API, admin, kb_ingest) applies, from settings."""
    return UploadLimits(
        max_file_bytes=settings.KB_MAX_UPLOAD_MB * 1024 * 1024,
        max_zip_entries=settings.KB_MAX_ZIP_ENTRIES,
        max_zip_total_bytes=settings.KB_MAX_ZIP_EXPANDED_MB * 1024 * 1024,
        max_files=settings.KB_MAX_UPLOAD_FILES,
    )


def documents_add_uploads(
    *, collection: Collection, uploads: Sequence[Upload], uploader: Writer
) -> list[tuple[Document, AddOutcome]]:
    """Receive a request's files (archives expanded) and add each; raises UploadRejected, before
    anything is created, when any file is refused."""
    _require_task_queue()
    with tempfile.TemporaryDirectory(prefix="quarry-upload-") as workdir:
        incoming = receive(uploads, workdir=Path(workdir), limits=upload_limits())
        return _add_all(collection=collection, incoming=incoming, uploader=uploader)


def _add_all(
    *, collection: Collection, incoming: Sequence[IncomingFile], uploader: Writer
) -> list[tuple[Document, AddOutcome]]:
    """All or nothing: one transaction for the whole request, so a file failing part way
    leaves no document of it behind and queues nothing (tasks are sent on commit); the files
    already stored for it are removed."""
    added: list[tuple[Document, AddOutcome]] = []
    try:
        with transaction.atomic():
            for item in incoming:
                added.append(document_add(collection=collection, incoming=item, uploader=uploader))
    except BaseException:
        for document, outcome in added:
            if outcome != AddOutcome.UNCHANGED:
                document.file.delete(save=False)
        raise
    return added


def _require_task_queue() -> None:
    """Refuse an upload the workers could not hear about: the caller keeps its files and
    retries, rather than leaving documents queued with no task."""
    from kb.observability.readiness import check_broker

    try:
        check_broker()
    except Exception as exc:
        logger.warning("upload refused: task queue unreachable (%s)", type(exc).__name__)
        raise UploadRejected(
            503,
            "The ingestion queue cannot be reached, so nothing was stored. Try again in a minute.",
        ) from exc


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


@transaction.atomic
def document_add(
    *, collection: Collection, incoming: IncomingFile, uploader: Writer
) -> tuple[Document, AddOutcome]:
    """Identical content already in the collection is a no-op; a known name with new content
    becomes the next version of that document (the old one stays searchable until the new one
    is fully indexed); anything else is a new document. Only documents the uploader may read
    and edit are matched: anything else is a new, separate document, so the outcome reveals
    nothing hidden from them and changes nothing for its readers."""
    sha256 = file_sha256(incoming.path)
    candidates = access.matchable_documents(uploader, collection=collection)
    same = candidates.filter(sha256=sha256).exclude(status=DocumentStatus.FAILED).first()
    if incoming.path.stat().st_size == 0:
        same = None  # every empty file fails on its own, under its own name
    if same is not None:
        return same, AddOutcome.UNCHANGED
    document = candidates.select_for_update().filter(source_filename=incoming.name).first()
    outcome = AddOutcome.NEW_VERSION if document is not None else AddOutcome.CREATED
    if document is None:
        document = Document(collection=collection, source_filename=incoming.name)
    _store_content(document, incoming, sha256)
    transaction.on_commit(lambda: _enqueue_ingest(document.pk, document.version))
    return document, outcome


def _store_content(document: Document, incoming: IncomingFile, sha256: str) -> None:
    document.title = document.title or filename_title(incoming.name)
    document.sha256 = sha256
    document.size_bytes = incoming.path.stat().st_size
    document.mime_type = mimetypes.guess_type(incoming.name)[0] or "application/octet-stream"
    if document.file.name:  # a new version: the indexed one keeps its file until replaced
        document.superseded_files = [
            *document.superseded_files,
            [document.version, document.file.name],
        ]
    document.version += 1
    _mark_queued(document)
    with incoming.path.open("rb") as handle:
        name = f"{sha256[:2]}/{sha256}/{stored_name(incoming.name)}"
        document.file.save(name, File(handle), save=False)
    try:
        document.save()
    except BaseException:  # the row is not written: neither may its file stay
        document.file.delete(save=False)
        raise


@transaction.atomic
def document_retry(*, document: Document) -> None:
    """Queue a document again as the same version: a failed one (the retry button), or an
    indexed one to re-embed (kb_reindex). Its chunk ids are the version's, so the new vectors
    overwrite the old in place and it stays searchable meanwhile. A file that no longer parses
    fails before anything is written and keeps the old vectors; a store outage part way through
    the writes leaves some of each until the next attempt."""
    _mark_queued(document)
    document.save(update_fields=["status", "stage", "progress", "error", "updated_at"])
    version = document.version
    transaction.on_commit(lambda: _enqueue_ingest(document.pk, version))


def _mark_queued(document: Document) -> None:
    document.status = DocumentStatus.QUEUED
    document.stage = "queued"
    document.progress = 0
    document.error = ""


def document_delete(*, document: Document) -> None:
    """One document, as `documents_delete` deletes them."""
    documents_delete(documents=Document.objects.filter(pk=document.pk))


@transaction.atomic
def documents_delete(*, documents: QuerySet[Document]) -> int:
    """Gone from the database in one transaction, so no reader sees them any more, together
    with a `PendingPurge` per document naming what it left in the stores and on disk; once that
    commits, their chunks go from both stores and the files of every version from the storage
    (ingestion.purge). A store that is down keeps its PendingPurge, and the sweep finishes the
    job when it is back: rows can never go while their chunks and files stay unaccounted for.
    Conversations lose their citations of them, and cached answers over their collections go
    stale. A task still working on one notices the row is gone and removes what it wrote.
    Returns how many documents went."""
    rows = list(documents.select_for_update().order_by("pk"))
    if not rows:
        return 0
    purges = [
        PendingPurge.objects.create(
            document_id=row.pk, collection_id=row.collection_id, files=_stored_files(row)
        )
        for row in rows
    ]
    ids = [row.pk for row in rows]
    conversations_forget_documents(document_ids=ids)
    for start in range(0, len(ids), DELETE_BATCH):  # within every database's parameter limit
        Document.objects.filter(pk__in=ids[start : start + DELETE_BATCH]).delete()
    for collection_id in sorted({row.collection_id for row in rows}):
        collection_content_changed(collection_id=collection_id)
    purge_ids = [purge.pk for purge in purges]
    # robust: the rows are gone either way, and the sweep retries whatever this left
    transaction.on_commit(lambda: purges_run(ids=purge_ids), robust=True)
    return len(rows)


def _stored_files(document: Document) -> list[str]:
    """The current version's file and every replaced version's not yet pruned."""
    names = [document.file.name, *(name for _version, name in document.superseded_files)]
    return list(dict.fromkeys(name for name in names if name))


def _enqueue_ingest(document_id: int, version: int) -> None:
    """After commit. If the broker went away since the upload was accepted, the document waits
    with stage WAITING_FOR_QUEUE and is queued again when a worker starts or the sweep runs
    (ingestion.recovery). Sent by task name: ingestion imports nothing from here, and this
    module needs none of its tasks or pipeline."""
    try:
        app.send_task(INGEST_DOCUMENT, args=(document_id, version))
    except Exception:
        logger.warning(
            "document %s could not be queued; it will be retried", document_id, exc_info=True
        )
        Document.objects.filter(pk=document_id, version=version).update(stage=WAITING_FOR_QUEUE)


def restamp_later(document_id: int) -> None:
    """Re-stamp a document's chunks with its current readers once this transaction commits."""

    def restamp() -> None:
        collection_id = Document.objects.filter(pk=document_id).values_list(
            "collection_id", flat=True
        )
        for cid in collection_id:  # readers changed: stop serving answers cached before
            collection_content_changed(collection_id=cid)
        app.send_task(RESTAMP_DOCUMENT, args=(document_id,))

    transaction.on_commit(restamp)
