"""A Celery worker inside the current process, for the embedded default.

Embedded stores lock their folder to one process, so on one machine the web server and the
worker share a process: the worker consumes in a thread with the solo pool. In production
the worker is a separate `celery -A kb worker` and this module is not used.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from celery import Celery
from celery.beat import EmbeddedService
from celery.platforms import EX_OK
from celery.worker import WorkController
from celery.worker import state as worker_state

logger = logging.getLogger(__name__)


class EmbeddedWorker:
    def __init__(
        self, app: Celery, *, queues: list[str], beat_schedule: Path | None = None
    ) -> None:
        """With `beat_schedule` (a file), periodic tasks (query log retention) are also sent,
        by a beat thread: Celery's own embedded beat would fork a process."""
        self.queues = queues
        self._beat = (
            None
            if beat_schedule is None
            else EmbeddedService(app, thread=True, schedule_filename=str(beat_schedule))
        )
        self._controller = WorkController(
            app=app,
            pool="solo",
            concurrency=1,
            queues=queues,
            hostname=f"embedded@{threading.get_native_id()}",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        self._thread = threading.Thread(
            target=self._controller.start, name="celery-worker", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        if self._beat is not None:
            self._beat.start()  # type: ignore[union-attr]  # thread=True: a _Threaded
        logger.info("Embedded Celery worker started (queues: %s)", ", ".join(self.queues))

    def stop(self, timeout: float = 30.0) -> None:
        """The worker thread is asked to shut itself down (Celery's flag, read by its event
        loop between polls): closing its broker connection from this thread raced the worker's
        own read of a pending BRPOP on Redis (kombu), and the closing side waited for a reply
        the worker had already taken, for ever."""
        if self._beat is not None:
            self._beat.stop()
        worker_state.should_stop = EX_OK  # type: ignore[assignment]  # stubs: None only
        try:
            self._thread.join(timeout)
        finally:
            worker_state.should_stop = None  # the process may start another worker (tests)
        if self._thread.is_alive():
            logger.warning("Celery worker thread still busy after %.0f s", timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
