"""What the commands that queue ingestion share (kb_ingest, kb_reindex): a worker in this
process where the embedded stores are free, else the running workers; and a progress bar until
every queued document is indexed or failed.

Where another process owns the embedded stores (`make run` is serving) or servers are
configured, the running workers do the work and the command only watches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.conf import settings

from kb.celery import app as celery_app
from kb.models import Document, DocumentStatus
from kb.progress_bar import ProgressBar, TextIO
from kb.stores.errors import StoreLockedError
from kb.stores.factory import close_stores, graph_store, vector_index
from kb.worker import EmbeddedWorker

POLL_SECONDS = 0.5
DONE = {DocumentStatus.INDEXED, DocumentStatus.FAILED}


@contextmanager
def quiet_ingestion_logs() -> Iterator[None]:
    """Celery's and ingestion's own log lines off while a command shows its progress bar and
    summary (they say it all); the levels come back afterwards, for whatever runs next in the
    process (a test, a shell)."""
    loggers = [logging.getLogger(name) for name in ("celery", "ingestion", "kombu")]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, before, strict=True):
            logger.setLevel(level)


@contextmanager
def ingest_worker(stream: TextIO) -> Iterator[None]:
    """Within it, queued documents get ingested: by a worker this process runs when it can open
    the embedded stores, else by the running workers (said on `stream`)."""
    worker = _local_worker(stream)
    try:
        yield
    finally:
        if worker is not None:
            worker.stop()
            close_stores()


def _local_worker(stream: TextIO) -> EmbeddedWorker | None:
    if settings.QDRANT_URL or settings.NEO4J_URI:
        stream.write("Servers configured: the running Celery workers will ingest.\n")
        return None
    try:
        vector_index()
        graph_store()
    except StoreLockedError:
        stream.write("The running Quarry server owns the stores; its worker will ingest.\n")
        return None
    worker = EmbeddedWorker(celery_app, queues=["ingest"])
    worker.start()
    return worker


def watch_documents(document_ids: Sequence[int], *, stream: TextIO, label: str) -> list[Document]:
    """A progress bar until each document is indexed or failed; prints every failure with its
    reason, and returns the documents as they ended."""
    bar = ProgressBar(stream, total=len(document_ids), label=label)
    while True:
        rows = list(Document.objects.filter(pk__in=document_ids))
        finished = [d for d in rows if d.status in DONE]
        active = next((d for d in rows if d.status == DocumentStatus.PROCESSING), None)
        partial = (active.progress / 100) if active else 0.0
        detail = f"{active.title[:40]}: {active.stage}" if active else ""
        bar.update(len(finished) + partial, f"{len(finished)}/{len(rows)} {detail}")
        if len(finished) == len(rows):
            break
        time.sleep(POLL_SECONDS)
    bar.close()
    for document in rows:
        if document.status == DocumentStatus.FAILED:
            stream.write(f"failed: {document.source_filename}: {document.error}\n")
    return rows
