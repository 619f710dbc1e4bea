"""The Celery application. Configuration comes from Django settings (CELERY_* names)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import worker_ready

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


@worker_ready.connect
def _serve_worker_metrics(**kwargs: Any) -> None:
    """A separate worker process has no web server: its ingestion metrics get their own port."""
    from django.conf import settings

    if settings.KB_WORKER_METRICS_PORT:
        from prometheus_client import start_http_server

        start_http_server(settings.KB_WORKER_METRICS_PORT)
