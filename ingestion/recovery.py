"""Requeue documents whose task died with the process (embedded default only).

The folder broker hands a message out once, so a worker killed mid-document would leave it
`processing` forever. When the one embedded process starts, nothing else can be working on
those documents, so queueing them again is safe; tasks are idempotent per version.
"""

from __future__ import annotations

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
