"""One searcher per path, each filtered by the caller's scope inside its store (DESIGN.md,
query path step 2: never top-k first and filter afterwards)."""

from __future__ import annotations

from kb.stores.payload import ChunkPayload
from kb.stores.protocols import GraphStore, VectorIndex
from kb.stores.types import AccessScope, VectorHit
from kb.text.embeddings import Embedder
from kb.text.entities import extract_query_entities
from kb.text.sparse import SparseEncoder
from retrieval.types import Candidate


class DenseSearcher:
    name = "dense"

    def __init__(self, index: VectorIndex, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder

    def search(self, question: str, *, scope: AccessScope, limit: int) -> list[Candidate]:
        vector = self.embedder.encode_query(question)
        return _candidates(self.index.query(scope=scope, limit=limit, dense=vector))


class SparseSearcher:
    name = "sparse"

    def __init__(self, index: VectorIndex, encoder: SparseEncoder | None = None) -> None:
        self.index = index
        self.encoder = encoder or SparseEncoder()

    def search(self, question: str, *, scope: AccessScope, limit: int) -> list[Candidate]:
        terms = self.encoder.encode_query(question)
        if not terms.indices:
            return []
        return _candidates(self.index.query(scope=scope, limit=limit, sparse=terms))


class GraphSearcher:
    """Question words linked to graph entities, expanded `hops` RELATED steps, ending on chunks
    the scope may read, scored by path weight in the store."""

    name = "graph"

    def __init__(self, graph: GraphStore, *, hops: int = 1) -> None:
        self.graph = graph
        self.hops = hops

    def search(self, question: str, *, scope: AccessScope, limit: int) -> list[Candidate]:
        keys = extract_query_entities(question)
        if not keys:
            return []
        hits = self.graph.neighbourhood(entity_keys=keys, scope=scope, hops=self.hops, limit=limit)
        return [Candidate(h.chunk_id, h.document_id, h.score) for h in hits]


def _candidates(hits: list[VectorHit]) -> list[Candidate]:
    return [_candidate(hit) for hit in hits]


def _candidate(hit: VectorHit) -> Candidate:
    payload = ChunkPayload.from_dict(hit.payload)
    return Candidate(hit.id, payload.document_id, hit.score, payload)
