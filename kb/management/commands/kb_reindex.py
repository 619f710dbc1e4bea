"""Re-embed the documents whose vectors another model made than KB_EMBED_MODEL (or every indexed
document with --all), through the same task as an upload's.

Each document is queued again as the version it has (`document_retry`, the retry button's
service): its chunks keep their ids and are overwritten in place, so it stays searchable
throughout, and citations of it keep opening; chunks its file no longer yields (the parser or
chunker changed) are removed once it is written. A document that fails (its file no longer
parses) keeps the chunks it had, is marked failed with the reason, and is picked up again by
the next run. Work is done as kb_ingest does it (kb.management.ingesting).
"""

from __future__ import annotations

from argparse import ArgumentParser
from collections import Counter
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import QuerySet

from kb.management.ingesting import ingest_worker, quiet_ingestion_logs, watch_documents
from kb.models import Collection, Document, DocumentStatus
from kb.selectors.documents import UNSETTLED, documents_embedded_with_other_model
from kb.services.documents import document_retry


class Command(BaseCommand):
    help = (
        "Re-embed the documents whose vectors another model made than KB_EMBED_MODEL (every "
        "indexed document with --all); each stays searchable until its new vectors are written."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--collection", help="Only this collection (its slug or id)")
        parser.add_argument(
            "--all", action="store_true", help="Every indexed document, whatever its model"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be re-embedded, queue nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with quiet_ingestion_logs():  # the bar and the summary say it all
            self._handle(**options)

    def _handle(self, **options: Any) -> None:
        current = settings.KB_EMBED_MODEL
        collection = _collection(options["collection"])
        candidates = list(_candidates(current, every=options["all"], collection=collection))
        busy = [d for d in candidates if d.status in UNSETTLED]
        documents = [d for d in candidates if d.status not in UNSETTLED]
        self._plan(documents, busy, current=current, collection=collection)
        if options["dry_run"]:
            for document in documents:
                self.stderr.write(
                    f"  {document.collection.name}: {document.source_filename} "
                    f"({document.embed_model or 'unknown model'})"
                )
            self.stderr.write("Dry run: nothing queued.")
            return
        if not documents:
            return
        for document in documents:
            document_retry(document=document)
        with ingest_worker(self.stderr):
            rows = watch_documents(
                [d.pk for d in documents], stream=self.stderr, label="re-embedding"
            )
        self._summary(rows, current=current)

    def _plan(
        self,
        documents: list[Document],
        busy: list[Document],
        *,
        current: str,
        collection: Collection | None,
    ) -> None:
        scope = f"collection {collection.name!r}" if collection else "all collections"
        models = Counter(d.embed_model or "an unknown model" for d in documents)
        made = "; ".join(f"{count} made with {model}" for model, count in sorted(models.items()))
        self.stderr.write(
            f"KB_EMBED_MODEL is {current}. {len(documents)} documents to re-embed in {scope}"
            + (f" ({made})." if made else ".")
        )
        if busy:
            self.stderr.write(
                f"{len(busy)} more are queued or processing already: their running task embeds "
                "them, so they are left alone."
            )

    def _summary(self, rows: list[Document], *, current: str) -> None:
        indexed = [d for d in rows if d.status == DocumentStatus.INDEXED]
        failed = len(rows) - len(indexed)
        chunks = sum(d.chunk_count for d in indexed)
        kept = " (each keeps its previous vectors and stays searchable)" if failed else ""
        self.stderr.write(
            f"re-embedded {len(indexed)} documents, {chunks} chunks; {failed} failed{kept}."
        )
        elsewhere = Counter(d.embed_model for d in indexed if d.embed_model != current)
        for model, count in sorted(elsewhere.items()):
            self.stderr.write(
                f"{count} were embedded by workers set to {model}, not {current}: give every "
                "process the same KB_EMBED_MODEL and run this again."
            )
        if failed:
            raise CommandError(f"{failed} of {len(rows)} documents failed (reasons above).")


def _collection(slug_or_id: str | None) -> Collection | None:
    if slug_or_id is None:
        return None
    found = Collection.objects.filter(slug=slug_or_id).first()
    if found is None and slug_or_id.isdigit():
        found = Collection.objects.filter(pk=int(slug_or_id)).first()
    if found is None:
        raise CommandError(f"No collection with the slug or id {slug_or_id!r}.")
    return found


def _candidates(current: str, *, every: bool, collection: Collection | None) -> QuerySet[Document]:
    documents = (
        Document.objects.filter(indexed_version__gt=0)
        if every
        else documents_embedded_with_other_model(model=current)
    )
    if collection is not None:
        documents = documents.filter(collection=collection)
    return documents.select_related("collection").order_by("pk")
