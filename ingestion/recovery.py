"""Queue documents again whose task was never sent (the broker was away), or died with the
process (embedded default only).

The folder broker hands a message out once, so a worker killed mid-document would leave it
`processing` forever. When the one embedded process starts, nothing else can be working on
those documents, so queueing them again is safe; tasks are idempotent per version.
"""

from __future__ import annotations

from ingestion.queueing import WAITING_FOR_QUEUE
from kb.models import Document, DocumentStatus


def requeue_unfinished() -> int:
    from ingestion.tasks import ingest_document_task  # tasks import this module

    unfinished = Document.objects.filter(
        status__in=[DocumentStatus.QUEUED, DocumentStatus.PROCESSING]
    ).values_list("pk", "version")
    count = 0
    for document_id, version in unfinished:
        ingest_document_task.delay(document_id, version)
        count += 1
    return count


def documents_requeue_waiting() -> int:
    """Queue again the documents whose task could not be sent (the broker was down)."""
    from ingestion.tasks import ingest_document_task  # tasks import this module

    waiting = Document.objects.filter(status=DocumentStatus.QUEUED, stage=WAITING_FOR_QUEUE)
    count = 0
    for document_id, version in waiting.values_list("pk", "version"):
        ingest_document_task.delay(document_id, version)
        Document.objects.filter(pk=document_id, version=version, stage=WAITING_FOR_QUEUE).update(
            stage="queued"
        )
        count += 1
    return count
