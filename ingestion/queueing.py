"""What the web side needs to hand work to ingestion without importing its tasks: the names the
tasks are registered under (kb.services sends them by name through the Celery app) and the
stage of a document whose task could not be sent (sent again by ingestion.recovery)."""

from __future__ import annotations

INGEST_DOCUMENT = "ingestion.ingest_document"
RESTAMP_DOCUMENT = "ingestion.restamp_document"
PURGE_PENDING = "ingestion.purge_pending"  # periodic (CELERY_BEAT_SCHEDULE), not sent by kb
# Stage of a queued document whose task could not be sent (shown in the UI as such).
WAITING_FOR_QUEUE = "waiting for queue"
