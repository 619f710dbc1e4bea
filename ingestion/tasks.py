"""Thin Celery tasks: load by id, call one pipeline function, retry store outages with backoff.

Idempotent by design: point and chunk ids are deterministic per document version, so a retried
or redelivered task overwrites what an earlier attempt wrote. `acks_late` plus
`reject_on_worker_lost` (settings) mean a worker killed mid-document does not lose the message
where the broker can redeliver it; the embedded broker cannot, so start-up requeues orphans
(`ingestion.recovery`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_process_init, worker_ready
from django.conf import settings
from django.db import OperationalError

from ingestion import pipeline
from ingestion.files import document_prune_superseded_files
from ingestion.purge import purges_run
from ingestion.queueing import INGEST_DOCUMENT, PURGE_PENDING, RESTAMP_DOCUMENT
from ingestion.recovery import documents_requeue_waiting, requeue_unfinished
from kb.llm.chat import LlmUnavailable
from kb.stores.errors import StoreError
from kb.text.embeddings import load_embedder

RETRY_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": (StoreError, LlmUnavailable, OperationalError),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 6,
}


@shared_task(bind=True, name=INGEST_DOCUMENT, **RETRY_OPTIONS)
def ingest_document_task(self: Task[Any, Any], document_id: int, version: int) -> str:
    final = self.request.retries >= (self.max_retries or 0)
    outcome = pipeline.ingest_document(document_id=document_id, version=version, final_try=final)
    # replaced versions are no longer served: their files go. Also after "skipped": a retry
    # that found its version indexed has finished what an outage interrupted (pipeline._tidy);
    # the prune only ever takes versions older than the indexed one, so a stale task's is safe
    if outcome in ("indexed", "skipped"):
        document_prune_superseded_files(document_id=document_id)
    return outcome


@shared_task(bind=True, name=RESTAMP_DOCUMENT, **RETRY_OPTIONS)
def restamp_document_task(self: Task[Any, Any], document_id: int) -> None:
    pipeline.restamp_document(document_id=document_id)


@shared_task(name="ingestion.requeue_waiting")
def requeue_waiting_task() -> int:
    """Periodic: documents accepted while the broker was away get their task now."""
    return documents_requeue_waiting()


@shared_task(name=PURGE_PENDING)
def purge_pending_task() -> int:
    """Periodic: deleted documents whose chunks or files a store outage kept get removed now;
    returns how many are still waiting."""
    return purges_run().waiting


@worker_process_init.connect
def load_models(**kwargs: Any) -> None:
    """Each worker process loads the embedding model before its first task, not inside one: a
    time limit (KB_TASK_TIME_LIMIT) that interrupted a task during torch's seconds-long import
    would leave it half imported, failing every later task of that process."""
    load_embedder(settings.KB_EMBED_MODEL, models_dir=Path(settings.KB_MODELS_DIR))


@worker_ready.connect
def resume_unfinished(**kwargs: Any) -> None:
    """The folder broker cannot redeliver a message whose worker died; with it, the one
    embedded worker re-queues what was left queued or half done. Brokers that redeliver
    unacknowledged messages (Redis) only need the documents whose task was never sent. Either
    way, deletions a store outage left unfinished are finished (or wait for the sweep)."""
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        requeue_unfinished()
    else:
        documents_requeue_waiting()
    purges_run()
