"""The two store contracts. Every adapter passes the conformance suites in tests/."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kb.stores.types import AccessScope, ChunkPoint, GraphChunk, GraphHit, SparseVector, VectorHit


class VectorIndex(Protocol):
    """Dense + sparse chunk vectors with ACL payloads (Qdrant collection `chunks`)."""

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        """Insert or overwrite points by id (a retried write never duplicates)."""

    def query(
        self,
        *,
        scope: AccessScope,
        limit: int,
        dense: Sequence[float] | None = None,
        sparse: SparseVector | None = None,
    ) -> list[VectorHit]:
        """Top hits filtered by `scope` inside the store. Both vectors: server-side RRF over
        dense and sparse prefetches; one vector: that path alone. Empty scope: no hits.
        Sparse scores are BM25 with the IDF of the chunks `scope` may read, so no hit, order or
        score depends on a chunk outside it."""

    def fetch(self, *, ids: Sequence[str], scope: AccessScope) -> list[VectorHit]:
        """The points with these ids that `scope` may read (score 0), in no particular order."""

    def held_terms(
        self, *, terms: Sequence[int], document_ids: Sequence[int], scope: AccessScope
    ) -> set[int]:
        """The sparse terms (`kb.text.sparse.term_index`) that some point of these documents
        that `scope` may read holds: whether a document mentions a word anywhere, not only in
        the chunks a search ranked first. Empty scope or no documents: none."""

    def delete_document(self, document_id: int) -> None:
        """Remove every point of a document (all versions)."""

    def delete_points(self, *, document_id: int, keep_ids: Sequence[str]) -> None:
        """Remove the document's points whose id is not in `keep_ids` (once a version is fully
        written): those of other versions, and those of the same version that a re-parse no
        longer produced. An empty keep list is `delete_document`; calling it again is a no-op."""

    def set_acl(self, *, document_id: int, acl: Sequence[str]) -> None:
        """Re-stamp the ACL of every point of a document."""

    def count(self, *, document_id: int | None = None) -> int:
        """Exact number of points, of one document or of all."""

    def close(self) -> None: ...


class GraphStore(Protocol):
    """Entities, relations and chunk mentions (DESIGN.md, Graph)."""

    def upsert_chunks(self, chunks: Sequence[GraphChunk]) -> None:
        """Merge entities by key, link chunks to them, add relation weight per supporting
        chunk. A chunk id already stored has its old contribution replaced, so writing the
        same chunk twice changes nothing."""

    def neighbourhood(
        self, *, entity_keys: Sequence[str], scope: AccessScope, hops: int, limit: int
    ) -> list[GraphHit]:
        """Chunks within `hops` (0 to 2) relation steps of the entities, that the scope may
        read, best first. Hop 0 (direct mention) always counts; a step needs a readable
        supporting chunk; too common entities are not expanded and only the strongest
        neighbours are (`kb.stores.graph_traversal`). Mention counts, for scores and for "too
        common", are over the chunks the scope may read only."""

    def delete_document(self, document_id: int) -> None:
        """Remove a document's chunks, their relation support, orphaned entities."""

    def delete_stale_chunks(self, *, document_id: int, keep_chunk_ids: Sequence[str]) -> None:
        """Remove the document's chunks whose id is not in `keep_chunk_ids` (once a new version
        is fully written), with the same bookkeeping as `delete_document`: only their relation
        support, edges left without support, entities no chunk mentions. An empty keep list is
        `delete_document`; calling it again is a no-op."""

    def set_acl(self, *, document_id: int, acl: Sequence[str]) -> None: ...

    def count_chunks(self, *, document_id: int | None = None) -> int: ...

    def count_entities(self) -> int: ...

    def close(self) -> None: ...
