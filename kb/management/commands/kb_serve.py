"""Serve web + an in-process Celery worker on the embedded stores (what `make run` starts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kb.celery import all_queues
from kb.celery import app as celery_app
from kb.llm.factory import describe_model, describe_translation_model
from kb.stores.errors import StoreError
from kb.stores.factory import close_stores, describe_stores, graph_store, vector_index
from kb.worker import EmbeddedWorker


class Command(BaseCommand):
    help = "Serve the site and run the Celery worker in this one process."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-worker", action="store_true", help="Serve web only")

    def handle(self, *args: Any, **options: Any) -> None:
        for role, where in describe_stores().items():
            self.stderr.write(f"{role} store: {where}")
        self.stderr.write(f"answering model: {describe_model()}")
        self.stderr.write(f"translating model: {describe_translation_model()}")
        try:  # open now: a folder held by another process should stop start-up, not a request
            vector_index()
            graph_store()
        except StoreError as exc:
            raise CommandError(str(exc)) from exc
        worker = (
            None
            if options["no_worker"]
            else EmbeddedWorker(
                celery_app,
                queues=all_queues(),
                beat_schedule=Path(settings.KB_DATA_DIR) / "celerybeat-schedule",
            )
        )
        if worker is not None:
            worker.start()
        self.stderr.write(f"Quarry is serving on http://{settings.KB_BIND}:{settings.PORT}/")
        try:
            uvicorn.run(
                "kb.asgi:application",
                host=settings.KB_BIND,
                port=settings.PORT,
                workers=1,
                log_level="info",
                access_log=False,  # ours (kb.observability) leaves out client addresses
                # The MCP server's session manager starts and stops with the ASGI lifespan
                # (kb/mcp_server/app.py); "on": a failure to start it stops start-up.
                lifespan="on",
            )
        finally:
            if worker is not None:
                worker.stop()
            close_stores()
