"""The Celery application. Configuration comes from Django settings (CELERY_* names)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import celeryd_init, worker_process_shutdown, worker_ready

from kb.observability.metric_files import metric_files_clear, metric_files_process_exited

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kb.settings.base")

app = Celery("quarry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["kb", "ingestion"])


def all_queues() -> list[str]:
    """Every queue: documents (`ingest`) and periodic upkeep (`maintenance`, where beat sends
    its tasks). A worker that serves everything, like kb_serve's embedded one, consumes both."""
    from django.conf import settings

    return [settings.CELERY_TASK_DEFAULT_QUEUE, settings.KB_MAINTENANCE_QUEUE]


@app.on_after_configure.connect
def _create_local_folders(sender: Celery, **kwargs: Any) -> None:
    """The filesystem broker and file result backend expect their folders to exist."""
    options = sender.conf.broker_transport_options or {}
    keys = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")
    folders = [options.get(key) for key in keys]
    backend = str(sender.conf.result_backend or "")
    if backend.startswith("file://"):
        folders.append(backend.removeprefix("file://"))
    for folder in filter(None, folders):
        Path(folder).mkdir(parents=True, exist_ok=True)


@celeryd_init.connect
def _clear_metric_files(**kwargs: Any) -> None:
    """`celery worker` only (not the embedded worker, not `celery inspect`), before Django."""
    metric_files_clear()


@worker_process_shutdown.connect
def _forget_pool_process(pid: int, **kwargs: Any) -> None:
    metric_files_process_exited(pid)


@worker_ready.connect
def _serve_worker_metrics(**kwargs: Any) -> None:
    """A separate worker process has no web server: its ingestion metrics get their own port,
    served by the main process with what its pool children counted (kb.observability.metrics
    serving_registry)."""
    from django.conf import settings

    if settings.KB_WORKER_METRICS_PORT:
        from prometheus_client import start_http_server

        from kb.observability.metrics import serving_registry

        start_http_server(settings.KB_WORKER_METRICS_PORT, registry=serving_registry())
