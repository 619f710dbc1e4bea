"""Optimize the embedded vector index: merge its segments and build the HNSW index of the dense
vectors, which Qdrant Edge never does on its own (README, "Performance")."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kb.stores.errors import StoreError, StoreLockedError
from kb.stores.factory import close_stores, describe_stores, vector_index
from kb.stores.qdrant_edge import QdrantEdgeIndex, ShardLayout


class Command(BaseCommand):
    help = (
        "Optimize the embedded vector index after large imports. Run it while Quarry is "
        "stopped: it holds the index, and the whole process, until done."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.QDRANT_URL:
            self.stdout.write(
                f"The vector index is the Qdrant server at {settings.QDRANT_URL}, which "
                "optimizes in the background. Nothing to do."
            )
            return
        try:
            index = vector_index()
        except StoreLockedError as exc:
            raise CommandError(f"Stop Quarry (kb_serve) first. {exc}") from exc
        except StoreError as exc:
            raise CommandError(str(exc)) from exc
        if not isinstance(index, QdrantEdgeIndex):  # unreachable without QDRANT_URL
            raise CommandError(f"Not an embedded vector index: {describe_stores()['vector']}")
        try:
            self._optimize(index)
        finally:
            close_stores()

    def _optimize(self, index: QdrantEdgeIndex) -> None:
        before = index.layout()
        self.stdout.write(f"Vector index: {describe_stores()['vector']}")
        self.stdout.write(f"Before: {_describe(before)}")
        self.stdout.write(
            "Optimizing: a minute or more per 100k chunks on 2 cores, with no progress shown "
            "(the engine holds this process)…"
        )
        started = time.monotonic()
        try:
            changed = index.optimize()
        except StoreError as exc:
            raise CommandError(str(exc)) from exc
        seconds = time.monotonic() - started
        after = index.layout()
        self.stdout.write(f"After: {_describe(after)}")
        if changed:
            self.stdout.write(self.style.SUCCESS(f"Optimized in {seconds:.1f} s."))
        else:
            self.stdout.write(
                f"Nothing to change ({seconds:.1f} s): either already optimized, or too few new "
                "vectors for an index to pay off (search scans them quickly at this size)."
            )


def _describe(layout: ShardLayout) -> str:
    return (
        f"{layout.points:,} chunks in {layout.segments} segment(s), "
        f"{layout.indexed_vectors:,} vectors indexed (sparse ones always; dense ones once "
        "optimized)"
    )
