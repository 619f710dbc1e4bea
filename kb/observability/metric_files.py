"""The multiprocess folder of a Celery worker (PROMETHEUS_MULTIPROC_DIR): emptied when the worker
starts, and a pool child's live gauges dropped when it exits.

Under the prefork pool the children count (documents, chunks, failures) and the parent serves
the scrape, merging every file in the folder. Files of an earlier run would add its counts to
this one's, so the folder is emptied before anything of this run writes to it: Celery's
`celeryd_init`, sent before Django, and with it these metrics, is set up. A child that exits
(`worker_process_shutdown`, e.g. after `--max-tasks-per-child`) keeps its counters, which
stay part of the totals, but its live gauges go.

Only this module's functions touch the folder; it imports no metric, so importing it writes
nothing there.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from prometheus_client import multiprocess

logger = logging.getLogger(__name__)


def multiprocess_dir() -> str:
    """The folder several processes write their values to; empty for one process. The
    Prometheus client reads the variable itself when it is first imported, so this only
    repeats what it already chose."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def metric_files_clear() -> None:
    """Removes the value files in the folder, not the folder (it may be a mounted volume).
    One folder per worker: a second worker started on it would clear the first one's counts."""
    folder = multiprocess_dir()
    if not folder:
        return
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)
    logger.info("Metrics of this worker's processes are merged from %s", path)


def metric_files_process_exited(pid: int) -> None:
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]  # prometheus_client ships this untyped
