"""A document accepted just before the broker vanished is not lost: it waits with a visible
stage and is queued again by the periodic sweep (or a starting worker) once the broker is back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ingestion.queueing import WAITING_FOR_QUEUE
from ingestion.recovery import documents_requeue_waiting
from kb.access import CONSOLE
from kb.celery import app
from kb.models import DocumentStatus
from kb.observability.queues import queue_depths
from kb.services.documents import document_add
from kb.uploads import IncomingFile
from tests.support import samples
from tests.support.factories import CollectionFactory

pytestmark = [pytest.mark.integration]


@contextmanager
def broker_down() -> Iterator[None]:
    """The app's broker points at a port nothing listens on, until the block ends."""
    # Celery pools broker connections and producers: set the working ones aside, so sends
    # connect to the dead address, and put them back afterwards untouched.
    saved_conf = app.conf.broker_url, app.conf.broker_transport_options
    saved_pools = app._pool, app.amqp._producer_pool  # type: ignore[attr-defined]  # Celery's private pools, reset to reach the dead broker
    app._pool = app.amqp._producer_pool = None  # type: ignore[attr-defined]  # Celery's private pools
    dead = "redis://127.0.0.1:9/0"
    app.conf.update(broker_url=dead, broker_transport_options={"max_retries": 0})
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("CELERY_BROKER_URL", dead)  # Celery lets this variable win over conf
            yield
    finally:
        app.pool.force_close_all()  # type: ignore[attr-defined]  # the dead broker's pool only
        app.conf.update(broker_url=saved_conf[0], broker_transport_options=saved_conf[1])
        app._pool, app.amqp._producer_pool = saved_pools  # type: ignore[attr-defined]  # Celery's private pools


def test_a_task_that_cannot_be_sent_waits_and_is_requeued_when_the_broker_is_back(
    transactional_db: None, stores: Path, tmp_path: Path
) -> None:
    collection = CollectionFactory.create(name="Ops")
    path = samples.text(tmp_path / "rota.txt", "Rotas change on Monday.")
    queued_before = queue_depths()["ingest"]

    with broker_down():
        document, _ = document_add(
            collection=collection, incoming=IncomingFile("rota.txt", path), uploader=CONSOLE
        )
        document.refresh_from_db()
        assert (document.status, document.stage) == (DocumentStatus.QUEUED, WAITING_FOR_QUEUE)
        with pytest.raises(Exception):  # noqa: B017 - still away: the sweep cannot send either
            documents_requeue_waiting()
        document.refresh_from_db()
        assert document.stage == WAITING_FOR_QUEUE

    assert documents_requeue_waiting() == 1  # the broker (the test's folder broker) is back
    document.refresh_from_db()
    assert document.stage == "queued"
    assert queue_depths()["ingest"] == queued_before + 1
    assert documents_requeue_waiting() == 0  # sent once, never twice
