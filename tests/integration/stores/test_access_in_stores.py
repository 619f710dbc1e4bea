"""The access policy enforced inside each real store: every persona's store search returns
exactly the documents the database policy lets it read, no more, no fewer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb import access
from kb.stores.graph_embedded import EmbeddedGraphStore
from kb.stores.qdrant_edge import QdrantEdgeIndex
from kb.stores.types import ChunkPoint, GraphChunk, GraphEntity, SparseVector
from tests.support.personas import EXPECTED_VISIBLE, World

pytestmark = pytest.mark.integration
PERSONAS = sorted(EXPECTED_VISIBLE)
DIM = 8


@pytest.fixture
def stamped(world: World, tmp_path: Path) -> Iterator[tuple[QdrantEdgeIndex, EmbeddedGraphStore]]:
    """Every document gets one chunk, stamped with the policy's ACL, in both stores. All chunks
    are equally near the query, so only the filter decides what comes back."""
    index = QdrantEdgeIndex(tmp_path / "qdrant", dense_dim=DIM)
    graph = EmbeddedGraphStore(tmp_path / "graph")
    for document in world.documents.values():
        acl = access.document_acl(document)
        chunk_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"doc-{document.pk}"))
        payload = {
            "chunk_id": chunk_id,
            "document_id": document.pk,
            "collection_id": document.collection_id,
            "acl": acl,
            "title": document.title,
        }
        index.upsert(
            [
                ChunkPoint(
                    id=chunk_id, dense=[1.0] * DIM, sparse=SparseVector([7], [1.0]), payload=payload
                )
            ]
        )
        graph.upsert_chunks(
            [
                GraphChunk(
                    id=chunk_id,
                    document_id=document.pk,
                    collection_id=document.collection_id,
                    acl=acl,
                    entities=[GraphEntity(key="policy", name="Policy")],
                )
            ]
        )
    yield index, graph
    index.close()
    graph.close()


def _titles(world: World, document_ids: set[int]) -> set[str]:
    return {t for t, d in world.documents.items() if d.pk in document_ids}


@pytest.mark.parametrize("persona", PERSONAS, ids=PERSONAS)
def test_vector_search_returns_exactly_the_readable_documents(
    world: World, stamped: tuple[QdrantEdgeIndex, EmbeddedGraphStore], persona: str
) -> None:
    index, _graph = stamped
    scope = access.access_scope(world.users[persona])

    hits = index.query(scope=scope, limit=100, dense=[1.0] * DIM, sparse=SparseVector([7], [1.0]))

    assert _titles(world, {h.payload["document_id"] for h in hits}) == EXPECTED_VISIBLE[persona]


@pytest.mark.parametrize("persona", PERSONAS, ids=PERSONAS)
def test_graph_search_returns_exactly_the_readable_documents(
    world: World, stamped: tuple[QdrantEdgeIndex, EmbeddedGraphStore], persona: str
) -> None:
    _index, graph = stamped
    scope = access.access_scope(world.users[persona])

    hits = graph.neighbourhood(entity_keys=["policy"], scope=scope, hops=1, limit=100)

    assert _titles(world, {h.document_id for h in hits}) == EXPECTED_VISIBLE[persona]


def test_restamping_after_an_acl_change_moves_visibility(
    world: World, stamped: tuple[QdrantEdgeIndex, EmbeddedGraphStore]
) -> None:
    index, graph = stamped
    runbook = world.documents["runbook"]
    hr_group = world.users["hr_reader"].groups.get(name="hr")
    runbook.reader_groups.set([hr_group])  # narrowed to a group that cannot read the collection
    engineer_scope = access.access_scope(world.users["engineer"])

    index.set_acl(document_id=runbook.pk, acl=access.document_acl(runbook))
    graph.set_acl(document_id=runbook.pk, acl=access.document_acl(runbook))

    vector_ids = {
        h.payload["document_id"]
        for h in index.query(scope=engineer_scope, limit=100, dense=[1.0] * DIM)
    }
    graph_ids = {
        h.document_id
        for h in graph.neighbourhood(
            entity_keys=["policy"], scope=engineer_scope, hops=0, limit=100
        )
    }
    assert runbook.pk not in vector_ids | graph_ids
    assert not access.readable_document_ids(world.users["engineer"], {runbook.pk})
