"""`/readyz`: every dependency a question or an upload needs, each checked on its own, with
what is down named in the body. Cheap enough for a load balancer to call every few seconds."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

CheckResult = dict[str, Any]


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker() -> None:
    from kb.celery import app

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        options = app.conf.broker_transport_options  # configuring the app makes the folders
        folder = Path(options["data_folder_in"])
        if not folder.is_dir():
            raise RuntimeError(f"broker folder {folder} is missing")
        return
    with app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, timeout=2)


def check_vector_store() -> None:
    from kb.stores.factory import vector_index

    vector_index().count()


def check_graph_store() -> None:
    from kb.stores.factory import graph_store

    graph_store().count_entities()


def check_model() -> None:
    """The in-process model file is checked without loading it; a model server must answer."""
    from kb.llm.factory import gguf_path

    if settings.KB_LLM_BASE_URL:
        url = settings.KB_LLM_BASE_URL.rstrip("/") + "/models"
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - the configured server
            return
    path = gguf_path()
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: run `make model`")


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "vector_store": check_vector_store,
    "graph_store": check_graph_store,
    "model": check_model,
}


def readiness() -> tuple[bool, dict[str, CheckResult]]:
    results: dict[str, CheckResult] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # any failure means "not ready", said plainly
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return all(r["ok"] for r in results.values()), results
