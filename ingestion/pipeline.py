"""One document from its stored file to searchable, permission-stamped chunks.

parse -> chunk -> embed (dense + sparse) -> extract entities -> write Qdrant + graph -> commit.

Versioning: every chunk id is derived from (document, version, chunk number), so a retry
overwrites its own earlier attempt. The previous version stays searchable until the new one is
completely written and committed; only then are stale chunks removed (`_tidy`). A failure
before the commit removes what this attempt wrote and leaves the last good version in place;
one after it (a store outage while tidying) leaves the new version live, and the retried task,
finding it indexed, tidies again.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TypeVar

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone

from ingestion import progress
from ingestion.chunk import chunk_elements
from ingestion.parsers.base import ParseError
from ingestion.parsers.registry import parse_document
from ingestion.purge import document_remove_from_stores
from ingestion.titles import indexed_title
from ingestion.types import Chunk
from kb.access import document_acl
from kb.error_text import without_paths
from kb.llm.chat import LlmUnavailable
from kb.llm.factory import chat_model
from kb.models import Document, DocumentStatus, collection_content_changed
from kb.observability import metrics
from kb.stores.errors import StoreError
from kb.stores.factory import graph_store, vector_index
from kb.stores.payload import ChunkPayload, chunk_id
from kb.stores.types import ChunkPoint, GraphChunk
from kb.text.embeddings import load_embedder
from kb.text.instructions import instruction_cues
from kb.text.llm_entities import LlmEntityExtractor, RuleEntityExtractor
from kb.text.script import script_of
from kb.text.sparse import SparseEncoder

logger = logging.getLogger(__name__)
WRITE_BATCH = 256
T = TypeVar("T")


def version_chunk_ids(document_id: int, version: int, count: int) -> list[str]:
    return [chunk_id(document_id, version, n) for n in range(count)]


@dataclass(frozen=True)
class Written:
    """What one attempt wrote: the new version's chunk ids and what the commit records."""

    chunk_ids: list[str]
    page_count: int
    acl: list[str]
    title: str
    embed_model: str  # the KB_EMBED_MODEL that made the dense vectors
    script: str  # kb.text.script.script_of the whole text: what questions are translated into
    flagged: int = 0  # chunks that address the assistant or the reader with instructions


def ingest_document(*, document_id: int, version: int, final_try: bool = False) -> str:
    """Returns what happened: indexed, failed, skipped (stale task, or one for a version
    already indexed: that finishes the version's tidy-up first) or superseded."""
    document = _current(document_id, version)
    if document is None:
        return "skipped"
    if _is_indexed(document):  # a redelivered or retried task: finish an interrupted clean-up
        keep = version_chunk_ids(document.pk, document.indexed_version, document.chunk_count)
        _tidy_after_commit(document, keep_ids=keep, written_acl=None, final_try=final_try)
        return "skipped"
    started = time.perf_counter()
    try:
        written = _index(document)
        outcome = _commit(document, written)
    except Exception as exc:
        if not final_try and _retryable(exc):
            raise  # a store or model outage: the task retries with backoff
        reason, code = _failure(document_id, exc)
        _fail(document, reason, code=code)
        return "failed"
    if outcome == "indexed":  # live from here on: a failure no longer fails the document
        _tidy_after_commit(
            document, keep_ids=written.chunk_ids, written_acl=written.acl, final_try=final_try
        )
        metrics.document_indexed(len(written.chunk_ids), time.perf_counter() - started)
    return outcome


def _retryable(exc: Exception) -> bool:
    return isinstance(exc, StoreError | LlmUnavailable | OperationalError) and not _timed_out(exc)


def _failure(document_id: int, exc: Exception) -> tuple[str, str]:
    """What the uploader reads, and the failure's code for the metrics. Never re-raises: a
    library crash on one file must not stop the worker."""
    if _timed_out(exc):  # a separate worker's KB_TASK_TIME_LIMIT: give up, live on
        limit = settings.KB_TASK_TIME_LIMIT
        return (
            f"Processing timed out after {limit} s (KB_TASK_TIME_LIMIT). Split the file, or "
            "ask an administrator to raise the limit.",
            "timeout",
        )
    if isinstance(exc, ParseError):
        return str(exc), exc.code
    if isinstance(exc, StoreError | LlmUnavailable | OperationalError):
        return f"A service could not be reached: {exc}", "service"
    logger.exception("ingestion of document %s failed", document_id)
    return f"This file could not be processed ({type(exc).__name__}: {exc}).", "crash"


def _timed_out(exc: BaseException | None) -> bool:
    """The time limit interrupts whatever runs, and a parser's catch-all may have wrapped the
    interruption in its own error: look down the chain."""
    while exc is not None:
        if isinstance(exc, SoftTimeLimitExceeded):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def restamp_document(*, document_id: int) -> None:
    """Apply the current access policy to every chunk of a document, in every store."""
    document = Document.objects.select_related("collection").filter(pk=document_id).first()
    if document is None:
        return
    acl = document_acl(document)
    vector_index().set_acl(document_id=document_id, acl=acl)
    graph_store().set_acl(document_id=document_id, acl=acl)
    collection_content_changed(collection_id=document.collection_id)


def _current(document_id: int, version: int) -> Document | None:
    document = Document.objects.select_related("collection").filter(pk=document_id).first()
    if document is None or document.version != version:
        return None  # deleted, or a newer upload has its own task
    return document


def _is_indexed(document: Document) -> bool:
    return (
        document.status == DocumentStatus.INDEXED and document.indexed_version == document.version
    )


def _index(document: Document) -> Written:
    """Parse and chunk, then embed in this thread while a second thread extracts entities and
    writes the graph: torch releases the GIL, so graph work hides behind embedding."""
    progress.report(document.pk, "parsing")
    parsed = parse_document(
        Path(document.file.path),
        filename=document.source_filename,
        ocr_languages=settings.KB_OCR_LANGUAGES,
        progress=functools.partial(_parsing_progress, document.pk),
    )
    document.title = indexed_title(
        document.title, filename=document.source_filename, parsed=parsed.title
    )  # before the chunks are written: their payloads carry it
    progress.report(document.pk, "chunking")
    chunks = chunk_elements(parsed.elements)
    if not chunks:
        raise ParseError("The file contains no text that could be indexed.", code="no_text")
    acl = document_acl(document)
    ids = version_chunk_ids(document.pk, document.version, len(chunks))
    model = settings.KB_EMBED_MODEL  # read once: what embeds is what the commit records
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="graph-writer") as pool:
        graph_written = pool.submit(_write_graph, document, chunks, ids, acl)
        dense = _embed(document.pk, [c.text for c in chunks], model=model)
        progress.report(document.pk, "writing")
        cues = [instruction_cues(c.text) for c in chunks]
        _write_vectors(_points(document, chunks, ids, dense, acl, cues, parsed.page_labels))
        progress.report(document.pk, "graph")
        graph_written.result()  # re-raises what failed in the graph thread
    flagged = sum(1 for found in cues if found)
    return Written(
        chunk_ids=ids,
        page_count=parsed.page_count,
        acl=acl,
        title=document.title,
        embed_model=model,
        script=script_of(" ".join(c.text for c in chunks)),
        flagged=flagged,
    )


def _parsing_progress(document_id: int, fraction: float, detail: str) -> None:
    progress.report(document_id, "parsing", fraction, detail=detail)


def _embed(document_id: int, texts: list[str], *, model: str) -> list[list[float]]:
    embedder = load_embedder(model, models_dir=Path(settings.KB_MODELS_DIR))
    if embedder.dimension != settings.KB_EMBED_DIM:
        raise RuntimeError(
            f"{model} makes {embedder.dimension}-dimensional vectors but "
            f"KB_EMBED_DIM is {settings.KB_EMBED_DIM}; set it to match and re-index."
        )
    vectors: list[list[float]] = []
    for batch in _batched(texts, settings.KB_EMBED_BATCH):
        vectors += embedder.encode_documents(batch, batch_size=settings.KB_EMBED_BATCH)
        progress.report(document_id, "embedding", len(vectors) / len(texts))
    return vectors


def _points(
    document: Document,
    chunks: Sequence[Chunk],
    ids: Sequence[str],
    dense: Sequence[list[float]],
    acl: list[str],
    cues: Sequence[list[str]],
    page_labels: Mapping[int, str],
) -> list[ChunkPoint]:
    """Each chunk's payload; `page_labels` (ParsedDocument's) gives its page's printed label."""
    encoder = SparseEncoder()
    return [
        ChunkPoint(
            id=cid,
            dense=vector,
            sparse=encoder.encode_document(chunk.text),
            payload=ChunkPayload(
                chunk_id=cid,
                chunk_number=chunk.number,
                document_id=document.pk,
                document_version=document.version,
                collection_id=document.collection_id,
                acl=tuple(acl),
                title=document.title,
                page=chunk.page,
                page_label=page_labels.get(chunk.page, "") if chunk.page else "",
                section=chunk.section,
                text=chunk.text,
                instruction_cues=tuple(found),
            ).to_dict(),
        )
        for cid, chunk, vector, found in zip(ids, chunks, dense, cues, strict=True)
    ]


def _write_graph(
    document: Document, chunks: Sequence[Chunk], ids: Sequence[str], acl: list[str]
) -> None:
    """Runs in the graph-writer thread: no database access here (no progress reports)."""
    graph = graph_store()
    for batch in _batched(_graph_chunks(document, chunks, ids, acl), WRITE_BATCH):
        graph.upsert_chunks(batch)


def _graph_chunks(
    document: Document, chunks: Sequence[Chunk], ids: Sequence[str], acl: list[str]
) -> list[GraphChunk]:
    extractor = entity_extractor()
    graph_chunks = []
    for cid, chunk in zip(ids, chunks, strict=True):
        found = extractor.extract(chunk.text)
        graph_chunks.append(
            GraphChunk(
                id=cid,
                document_id=document.pk,
                collection_id=document.collection_id,
                acl=acl,
                entities=found.entities,
                relations=found.relations,
            )
        )
    return graph_chunks


def entity_extractor() -> LlmEntityExtractor | RuleEntityExtractor:
    if settings.KB_GRAPH_EXTRACTOR == "rules":
        return RuleEntityExtractor()
    return LlmEntityExtractor(chat_model())


def _write_vectors(points: Sequence[ChunkPoint]) -> None:
    index = vector_index()
    for batch in _batched(points, WRITE_BATCH):
        index.upsert(batch)


def _commit(document: Document, written: Written) -> str:
    """Make the new version the searchable one, in the database only: the stores are tidied
    after (`_tidy`), so that their outage cannot undo or fail a version already live."""
    with transaction.atomic():
        row = Document.objects.select_for_update().filter(pk=document.pk).first()
        if row is None:
            document_remove_from_stores(document.pk)
            return "skipped"
        if row.version != document.version:
            return "superseded"  # the newer version's commit removes these chunks
        row.status = DocumentStatus.INDEXED
        row.stage = "indexed"
        row.progress = 100
        row.error = ""
        row.indexed_version = row.version
        row.embed_model = written.embed_model  # with indexed_version: they describe one version
        row.script = written.script
        row.chunk_count = len(written.chunk_ids)
        row.page_count = written.page_count
        row.title = written.title
        row.flagged_chunks = written.flagged
        row.save()
    return "indexed"


def _tidy_after_commit(
    document: Document,
    *,
    keep_ids: Sequence[str],
    written_acl: Sequence[str] | None,
    final_try: bool,
) -> None:
    """A store outage here leaves the committed version live. Before the last try it re-raises:
    the retried task finds the version indexed and tidies again. On the last try it is only
    logged. Either way answers cached over the collection go stale: a new version is live."""
    try:
        _tidy(document_id=document.pk, keep_ids=keep_ids, written_acl=written_acl)
    except Exception as exc:
        if not final_try and _retryable(exc):
            raise
        logger.exception(
            "document %s version %s is indexed, but its stores could not be tidied: chunks of "
            "other versions, or an outdated ACL, may remain until it is next indexed",
            document.pk,
            document.version,
        )
    finally:
        collection_content_changed(collection_id=document.collection_id)


def _tidy(*, document_id: int, keep_ids: Sequence[str], written_acl: Sequence[str] | None) -> None:
    """Drop every chunk of the document not in `keep_ids` (the indexed version's): the previous
    version's, and those a same-version re-index (kb_reindex) no longer produces. Re-stamp the
    kept ones when the readers changed while they were written (`written_acl` None: not known,
    so always). Idempotent: calling it again finishes what an outage interrupted."""
    vector_index().delete_points(document_id=document_id, keep_ids=keep_ids)
    graph_store().delete_stale_chunks(document_id=document_id, keep_chunk_ids=keep_ids)
    row = Document.objects.select_related("collection").filter(pk=document_id).first()
    if row is None:
        return  # deleted meanwhile: its purge removes every chunk
    if written_acl is None or document_acl(row) != list(written_acl):
        restamp_document(document_id=document_id)


def _fail(document: Document, reason: str, *, code: str) -> None:
    """Remove this attempt's chunks (keep the last good version) and say why, plainly: the
    reason is shown to uploaders, without server paths; the log keeps them."""
    logger.warning("document %s failed: %s", document.pk, reason, extra={"reason": code})
    metrics.document_failed(code)
    try:
        _remove_attempt(document)
    except StoreError:
        logger.exception("could not clean up document %s after failure", document.pk)
    Document.objects.filter(pk=document.pk, version=document.version).update(
        status=DocumentStatus.FAILED,
        stage="failed",
        error=without_paths(reason)[:2000],
        updated_at=timezone.now(),
    )


def _remove_attempt(document: Document) -> None:
    live = document.indexed_version
    if not live:
        document_remove_from_stores(document.pk)
        return
    keep = version_chunk_ids(document.pk, live, document.chunk_count)
    vector_index().delete_points(document_id=document.pk, keep_ids=keep)
    graph_store().delete_stale_chunks(document_id=document.pk, keep_chunk_ids=keep)


def _batched(items: Sequence[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
