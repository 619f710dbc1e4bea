"""What deleted documents leave behind: their chunks in both stores and their stored files.

The services delete a document's rows in the same transaction that records a `PendingPurge`
naming its id and files (kb.services.documents). Once that commits, `purges_run` removes the
chunks of every version from the vector index and the graph (with the relation support they
gave and the entities no chunk mentions any more), then the files of every version, and only
then the PendingPurge. A store that is down leaves its PendingPurge in place with the error, and
the sweep (`ingestion.purge_pending`: every 5 minutes, and when a worker starts) tries again.
Every step is idempotent, so a retry finishes what an interrupted run began. Until then nothing
of it can be served: every candidate is checked against the database, where it is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import F

from ingestion.files import stored_files_delete
from kb.error_text import without_paths
from kb.models import PendingPurge
from kb.stores.errors import StoreError
from kb.stores.factory import graph_store, vector_index

logger = logging.getLogger(__name__)
ERROR_CHARS = 2000


@dataclass(frozen=True)
class PurgeOutcome:
    done: int  # documents now gone from every store and from the storage
    waiting: int  # documents whose chunks or files are still there, retried by the sweep


def document_remove_from_stores(document_id: int) -> None:
    """Every chunk of every version of a document, from the vector index and the graph."""
    vector_index().delete_document(document_id)
    graph_store().delete_document(document_id)


def purges_run(*, ids: Sequence[int] | None = None) -> PurgeOutcome:
    """Carry out these pending purges (None: every one), oldest first. A store error stops the
    run and is recorded on every purge it leaves (the store is down for all of them); any other
    error is recorded on its own purge, and the run goes on with the next."""
    pending = PendingPurge.objects.order_by("pk")
    if ids is not None:
        pending = pending.filter(pk__in=ids)
    todo = list(pending)
    done = 0
    for position, purge in enumerate(todo):
        try:
            document_remove_from_stores(purge.document_id)
            stored_files_delete(names=purge.files)
        except StoreError as exc:
            _record_failure(todo[position:], exc)
            break
        except Exception as exc:
            _record_failure([purge], exc)
            continue
        purge.delete()
        done += 1
    return PurgeOutcome(done=done, waiting=pending.all().count())  # not the evaluated list


def _record_failure(purges: Sequence[PendingPurge], exc: Exception) -> None:
    logger.warning(
        "%d deleted documents are not yet purged (%s); the sweep retries them",
        len(purges),
        type(exc).__name__,
        exc_info=True,
    )
    PendingPurge.objects.filter(pk__in=[purge.pk for purge in purges]).update(
        attempts=F("attempts") + 1, last_error=without_paths(str(exc))[:ERROR_CHARS]
    )
