"""`manage.py kb_optimize`: the embedded vector index gets its HNSW index, answers the same
ACL-filtered queries afterwards, and the command refuses to run beside a server holding it."""

from __future__ import annotations

import random
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings

from kb.stores.factory import close_stores, vector_index
from kb.stores.locking import FolderLock
from kb.stores.qdrant_edge import QdrantEdgeIndex
from kb.stores.types import AccessScope, ChunkPoint, SparseVector

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
]

# Enough 384-dimensional vectors to pass Qdrant's indexing threshold (about 6.7k); fewer stay
# outside the HNSW index and optimize() changes nothing.
POINTS = 8_000
GROUP_1 = AccessScope(collection_ids=[1], acl=["group:1"])


def _points(count: int, dim: int) -> list[ChunkPoint]:
    """Random unit-ish directions; even chunks readable by group 1, odd ones by group 2."""
    rng = random.Random(7)
    return [
        ChunkPoint(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"quarry:optimize:{n}")),
            dense=[rng.gauss(0.0, 1.0) for _ in range(dim)],
            sparse=SparseVector(indices=[n], values=[1.0]),
            payload={
                "chunk_id": n,
                "document_id": 1 + n // 100,
                "document_version": 1,
                "collection_id": 1,
                "acl": ["group:1" if n % 2 == 0 else "group:2"],
            },
        )
        for n in range(count)
    ]


def _top_ids(index: QdrantEdgeIndex, probes: list[ChunkPoint]) -> list[list[str]]:
    return [[hit.id for hit in index.query(scope=GROUP_1, limit=3, dense=p.dense)] for p in probes]


def _edge() -> QdrantEdgeIndex:
    index = vector_index()
    assert isinstance(index, QdrantEdgeIndex)
    return index


def test_optimize_builds_the_index_and_answers_the_same(stores: Path) -> None:
    points = _points(POINTS, settings.KB_EMBED_DIM)
    index = _edge()
    for start in range(0, POINTS, 500):
        index.upsert(points[start : start + 500])
    probes = points[:40]  # half readable by group 1, half not
    before = _top_ids(index, probes)
    assert index.layout().indexed_vectors == POINTS  # the sparse ones; dense is a full scan
    close_stores()

    out = StringIO()
    call_command("kb_optimize", stdout=out)

    assert "Optimized in" in out.getvalue()
    index = _edge()
    layout = index.layout()
    assert layout.points == POINTS
    assert layout.indexed_vectors == 2 * POINTS  # dense in an HNSW index too
    after = _top_ids(index, probes)
    assert after == before
    readable = {p.id for p in points if p.payload["acl"] == ["group:1"]}
    assert all(hit in readable for hits in after for hit in hits)
    assert all(hits[0] == probe.id for hits, probe in zip(after[::2], probes[::2], strict=True))


def test_optimize_says_when_there_is_nothing_to_do(stores: Path) -> None:
    _edge().upsert(_points(10, settings.KB_EMBED_DIM))
    close_stores()

    out = StringIO()
    call_command("kb_optimize", stdout=out)

    assert "Nothing to change" in out.getvalue()
    assert "10 chunks in 1 segment(s)" in out.getvalue()


def test_optimize_refuses_while_quarry_holds_the_index(stores: Path) -> None:
    held = FolderLock(stores / "qdrant", what="vector index")
    held.acquire()
    try:
        with pytest.raises(CommandError, match="Stop Quarry"):
            call_command("kb_optimize", stdout=StringIO())
    finally:
        held.release()


def test_optimize_leaves_a_qdrant_server_to_itself(settings: Settings) -> None:
    settings.QDRANT_URL = "http://qdrant.invalid:6333"  # never contacted
    out = StringIO()

    call_command("kb_optimize", stdout=out)

    assert "optimizes in the background" in out.getvalue()
