"""Ingest a file or a folder from the command line, through the same tasks as uploads.

Where the embedded stores are free, this process runs a worker itself; where another process
owns them (`make run` is serving) or servers are configured, the running workers do the work
and this command queues the files and watches their progress (kb.management.ingesting).
"""

from __future__ import annotations

import tempfile
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from kb.access import CONSOLE
from kb.management.ingesting import ingest_worker, quiet_ingestion_logs, watch_documents
from kb.models import Collection, DocumentStatus
from kb.services.collections import collection_create
from kb.services.documents import AddOutcome, document_add, upload_limits
from kb.services.users import groups_get_or_create
from kb.uploads import IncomingFile, UploadRejected, check_size, expand_zip


class Command(BaseCommand):
    help = "Ingest PATH (a file, a folder or a .zip) into a collection, with a progress bar."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--collection", required=True, help="Collection name")
        parser.add_argument(
            "--readers",
            help="Create the collection if missing, readable by these groups (a,b)",
        )
        parser.add_argument("--no-wait", action="store_true", help="Queue and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        with quiet_ingestion_logs():  # the bar and the summary say it all
            self._handle(**options)

    def _handle(self, **options: Any) -> None:
        collection = self._collection(options["collection"], options["readers"])
        with tempfile.TemporaryDirectory(prefix="quarry-ingest-") as workdir:
            files = self._files(options["path"], Path(workdir))
            queued = self._queue(collection, files)
        if options["no_wait"] or not queued:
            return
        with ingest_worker(self.stderr):
            rows = watch_documents(queued, stream=self.stderr, label="ingesting")
        failed = sum(1 for d in rows if d.status == DocumentStatus.FAILED)
        indexed = sum(d.chunk_count for d in rows if d.status == DocumentStatus.INDEXED)
        self.stderr.write(f"indexed {len(rows) - failed} files, {indexed} chunks.")
        if failed:
            raise CommandError(f"{failed} of {len(queued)} files failed (reasons above).")

    def _collection(self, name: str, readers: str | None) -> Collection:
        collection = Collection.objects.filter(name=name).first()
        if collection is not None:
            return collection
        if readers is None:
            raise CommandError(
                f"No collection named {name!r}. Create it with --readers GROUP[,GROUP] "
                "(or in /admin/)."
            )
        groups = [g for g in readers.split(",") if g.strip()]
        self.stderr.write(
            f"Created collection {name!r} readable by {', '.join(groups) or 'staff'}."
        )
        groups_get_or_create(names=groups)  # the console may name groups no one is in yet
        return collection_create(actor=CONSOLE, name=name, reader_groups=groups)

    def _files(self, path: Path, workdir: Path) -> list[IncomingFile]:
        if not path.exists():
            raise CommandError(f"{path} does not exist.")
        limits = upload_limits()
        candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        base = path.parent if path.is_file() else path
        files: list[IncomingFile] = []
        for number, candidate in enumerate(candidates):
            name = candidate.relative_to(base).as_posix()
            if any(part.startswith(".") for part in Path(name).parts):
                continue
            try:
                check_size(name, candidate.stat().st_size, limits.max_file_bytes)
                if candidate.suffix.lower() == ".zip":
                    files += expand_zip(candidate, workdir / f"zip-{number}", limits=limits)
                else:
                    files.append(IncomingFile(name=name, path=candidate))
            except UploadRejected as exc:
                self.stderr.write(f"skipped: {exc.message}")
        if not files:
            raise CommandError(f"No files to ingest under {path}.")
        return files

    def _queue(self, collection: Collection, files: list[IncomingFile]) -> list[int]:
        queued: list[int] = []
        unchanged = 0
        for item in files:
            document, outcome = document_add(collection=collection, incoming=item, uploader=CONSOLE)
            if outcome == AddOutcome.UNCHANGED:
                unchanged += 1
            else:
                queued.append(document.pk)
        self.stderr.write(
            f"{len(queued)} queued, {unchanged} unchanged (already indexed) in {collection.name!r}."
        )
        return queued
