"""`VectorIndex` on Qdrant Edge: the Qdrant engine embedded in this process, stored in a folder.

qdrant-edge-py 0.9.0 has everything the server adapter uses: named dense + sparse vectors with
the IDF modifier, keyword/integer payload indexes, prefetch + RRF fusion, delete and set-payload
by filter, exact count. So no fusion or filtering happens in Python here either.

Edge keeps a write-ahead log, so a process that dies without `close()` loses nothing; `close()`
flushes segments so the next open does not replay the log. Edge itself refuses a second open of
the WAL, but with an opaque error; the `FolderLock` taken first turns that into a clear one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import qdrant_edge as edge

from kb.stores import qdrant_edge_upgrade as upgrade
from kb.stores.errors import StoreError
from kb.stores.locking import FolderLock
from kb.stores.qdrant_common import (
    ACL,
    DENSE,
    DOCUMENT_ID,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    RRF_K,
    SPARSE,
    QueryVector,
    has_terms,
    one_term_queries,
    prefetch_limit,
    query_paths,
    scope_conditions,
    scoped_query,
    single_terms,
    to_hit,
)
from kb.stores.types import AccessScope, ChunkPoint, SparseVector, VectorHit

logger = logging.getLogger(__name__)

# Written by EdgeShard.create; its presence means the folder holds a shard to load.
SHARD_MARKER = "edge_config.json"


@dataclass(frozen=True)
class ShardLayout:
    """How the shard stores its points. Ingestion appends to segments without an HNSW index
    (dense search scans them); `optimize()` merges segments and builds the index."""

    points: int
    segments: int
    indexed_vectors: int  # sparse and dense together; dense ones only once optimized


class QdrantEdgeIndex:
    """Chunks in one Edge shard at `path`; one process at a time may open it."""

    def __init__(self, path: Path, *, dense_dim: int) -> None:
        self._lock = FolderLock(path, what="vector index")
        self._lock.acquire()
        try:
            self._shard = _open_shard(path, _config(dense_dim))
        except BaseException:
            self._lock.release()
            raise
        self._closed = False
        try:
            self._ensure_payload_indexes()
        except BaseException:
            self.close()
            raise

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        if points:
            self._shard.update(edge.UpdateOperation.upsert_points([_point(p) for p in points]))

    def query(
        self,
        *,
        scope: AccessScope,
        limit: int,
        dense: Sequence[float] | None = None,
        sparse: SparseVector | None = None,
    ) -> list[VectorHit]:
        if scope.is_empty or limit <= 0:
            return []
        scope_filter = _scope_filter(scope)
        paths = query_paths(dense, self._scoped(sparse, scope_filter))
        if not paths:
            return []
        if len(paths) == 1:
            name, vector = paths[0]
            request = edge.QueryRequest(
                limit=limit,
                query=edge.Query.Nearest(_query_vector(vector), using=name),
                filter=scope_filter,
                with_payload=True,
            )
        else:
            request = _fused_request(paths, scope_filter, limit)
        return [to_hit(p.id, p.score, p.payload) for p in self._shard.query(request)]

    def fetch(self, *, ids: Sequence[str], scope: AccessScope) -> list[VectorHit]:
        if scope.is_empty or not ids:
            return []
        scope_filter = _scope_filter(scope)
        scope_filter = edge.Filter(must=[*(scope_filter.must or []), edge.HasIdCondition(set(ids))])
        request = edge.ScrollRequest(limit=len(ids), filter=scope_filter, with_payload=True)
        records, _ = self._shard.scroll(request)
        return [to_hit(r.id, 0.0, r.payload) for r in records]

    def held_terms(
        self, *, terms: Sequence[int], document_ids: Sequence[int], scope: AccessScope
    ) -> set[int]:
        if scope.is_empty or not terms or not document_ids:
            return set()
        scope_filter = _scope_filter(scope)
        in_documents = edge.FieldCondition(
            DOCUMENT_ID, match=edge.MatchAny([int(d) for d in document_ids])
        )
        held_filter = edge.Filter(must=[*(scope_filter.must or []), in_documents])
        batch = edge.QueryBatchRequest(
            [
                edge.QueryRequest(
                    limit=1,
                    query=edge.Query.Nearest(_sparse(term), using=SPARSE),
                    filter=held_filter,
                    with_payload=False,
                    with_vector=False,
                )
                for term in single_terms(terms)
            ]
        )
        found = self._shard.query_batch(batch)
        return {int(term) for term, hits in zip(terms, found, strict=True) if hits}

    def delete_document(self, document_id: int) -> None:
        self._shard.update(
            edge.UpdateOperation.delete_points_by_filter(_document_filter(document_id))
        )

    def delete_points(self, *, document_id: int, keep_ids: Sequence[str]) -> None:
        stale = _stale_filter(document_id, keep_ids)
        self._shard.update(edge.UpdateOperation.delete_points_by_filter(stale))

    def set_acl(self, *, document_id: int, acl: Sequence[str]) -> None:
        self._shard.update(
            edge.UpdateOperation.set_payload_by_filter(
                _document_filter(document_id), {ACL: list(acl)}
            )
        )

    def count(self, *, document_id: int | None = None) -> int:
        count_filter = None if document_id is None else _document_filter(document_id)
        return self._shard.count(edge.CountRequest(exact=True, filter=count_filter))

    def layout(self) -> ShardLayout:
        info = self._shard.info()
        return ShardLayout(
            points=info.points_count,
            segments=info.segments_count,
            indexed_vectors=info.indexed_vectors_count,
        )

    def optimize(self) -> bool:
        """Merge segments and build the HNSW index once enough vectors are waiting (Edge runs
        no background optimizer). Minutes at 100k points on 2 cores, during which the shard,
        and every thread of this process that touches it, waits: `kb_optimize` runs it with
        nothing serving. True when something changed."""
        try:
            return bool(self._shard.optimize())
        except Exception as exc:  # Edge raises bare Exception for every failure
            raise StoreError(f"Qdrant Edge could not optimize the vector index: {exc}") from exc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._shard.flush()
            self._shard.close()
        finally:
            self._lock.release()

    def _scoped(
        self, sparse: SparseVector | None, scope_filter: edge.Filter
    ) -> SparseVector | None:
        """The query weighted by IDF over the readable chunks only (`qdrant_common`): one
        exact count, then one batch of one-term searches."""
        if sparse is None or not has_terms(sparse):
            return sparse
        total = self._shard.count(edge.CountRequest(exact=True, filter=scope_filter))
        if total == 0:
            return None
        batch = edge.QueryBatchRequest(
            [
                edge.QueryRequest(
                    limit=total,
                    query=edge.Query.Nearest(_sparse(term), using=SPARSE),
                    filter=scope_filter,
                    with_payload=False,
                    with_vector=False,
                )
                for term in one_term_queries(sparse)
            ]
        )
        frequencies = [len(hits) for hits in self._shard.query_batch(batch)]
        return scoped_query(sparse, total=total, frequencies=frequencies)

    def _ensure_payload_indexes(self) -> None:
        """Idempotent in Edge, so it runs on every open and also upgrades older folders."""
        schemas = [(f, edge.PayloadSchemaType.Keyword) for f in KEYWORD_FIELDS]
        schemas += [(f, edge.PayloadSchemaType.Integer) for f in INTEGER_FIELDS]
        for field, schema in schemas:
            self._shard.update(edge.UpdateOperation.create_field_index(field, schema))


def _config(dense_dim: int) -> edge.EdgeConfig:
    return edge.EdgeConfig(
        vectors={DENSE: edge.EdgeVectorParams(size=dense_dim, distance=edge.Distance.Cosine)},
        # No modifier: the IDF is the caller's scope's, applied to the query (qdrant_common).
        sparse_vectors={SPARSE: edge.EdgeSparseVectorParams()},
    )


def _open_shard(path: Path, config: edge.EdgeConfig) -> edge.EdgeShard:
    """Load with the config so Edge rejects a folder built for another embedding size; a folder
    built with Qdrant's global IDF is upgraded first (`qdrant_edge_upgrade`)."""
    try:
        upgrade.restore_interrupted(path)
        if (path / SHARD_MARKER).exists():
            if upgrade.uses_global_idf(path):
                logger.warning("upgrading the vector index at %s: sparse IDF per caller", path)
                copied = upgrade.drop_global_idf(path, config)
                logger.warning("vector index upgraded: %d points copied", copied)
            return edge.EdgeShard.load(str(path), config)
        return edge.EdgeShard.create(str(path), config)
    except Exception as exc:  # Edge raises bare Exception for every failure
        raise StoreError(f"Qdrant Edge could not open the vector index at {path}: {exc}") from exc


def _fused_request(
    paths: list[tuple[str, QueryVector]], scope_filter: edge.Filter, limit: int
) -> edge.QueryRequest:
    """RRF in the engine; each prefetch carries the filter so its candidates are readable."""
    prefetches = [
        edge.Prefetch(
            limit=prefetch_limit(limit),
            query=edge.Query.Nearest(_query_vector(vector), using=name),
            filter=scope_filter,
        )
        for name, vector in paths
    ]
    return edge.QueryRequest(
        limit=limit,
        prefetches=prefetches,
        query=edge.Fusion.Rrf(k=RRF_K),  # type: ignore[arg-type]  # stub omits Fusion.Rrf
        filter=scope_filter,
        with_payload=True,
    )


def _point(point: ChunkPoint) -> edge.Point:
    vector: dict[str, edge.NamedVector] = {DENSE: [float(x) for x in point.dense]}
    if has_terms(point.sparse):
        vector[SPARSE] = _sparse(point.sparse)
    return edge.Point(point.id, vector, point.payload)


def _query_vector(vector: QueryVector) -> list[float] | edge.SparseVector:
    return _sparse(vector) if isinstance(vector, SparseVector) else list(vector)


def _sparse(vector: SparseVector) -> edge.SparseVector:
    return edge.SparseVector([int(i) for i in vector.indices], [float(v) for v in vector.values])


def _scope_filter(scope: AccessScope) -> edge.Filter:
    return edge.Filter(
        must=[
            edge.FieldCondition(field, match=edge.MatchAny(values))
            for field, values in scope_conditions(scope)
        ]
    )


def _document_filter(document_id: int) -> edge.Filter:
    return edge.Filter(must=[_equals(DOCUMENT_ID, document_id)])


def _stale_filter(document_id: int, keep_ids: Sequence[str]) -> edge.Filter:
    """The document's points outside `keep_ids` (chunk ids are the point ids); no keep list
    means all of them, never a condition on an empty id set."""
    if not keep_ids:
        return _document_filter(document_id)
    return edge.Filter(
        must=[_equals(DOCUMENT_ID, document_id)],
        must_not=[edge.HasIdCondition(set(keep_ids))],
    )


def _equals(field: str, value: int) -> edge.FieldCondition:
    return edge.FieldCondition(field, match=edge.MatchValue(int(value)))
