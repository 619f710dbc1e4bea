"""`VectorIndex` on a Qdrant server through qdrant-client.

The same class also runs on qdrant-client's in-process ``:memory:`` mode, which is what the
conformance suite uses when no server is available; there payload indexes are accepted but
have no effect.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.common.client_exceptions import QdrantException
from qdrant_client.http.exceptions import ApiException, UnexpectedResponse

from kb.stores.errors import StoreError
from kb.stores.qdrant_common import (
    ACL,
    DENSE,
    DOCUMENT_ID,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
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

# Points per upsert request: keeps a large document well under the server's request size cap.
UPSERT_BATCH = 256
_CLIENT_ERRORS = (ApiException, QdrantException, httpx.HTTPError)


class QdrantServerIndex:
    """Chunks in one Qdrant collection; every ACL and collection filter runs in the server."""

    def __init__(self, client: QdrantClient, *, dense_dim: int, collection: str = "chunks") -> None:
        self._client = client
        self._collection = collection
        self._dense_dim = dense_dim
        self._where = _describe(client)
        with self._guard("prepare the collection"):
            self._ensure_collection()
            self._ensure_payload_indexes()

    @classmethod
    def from_url(
        cls, url: str, *, api_key: str | None, dense_dim: int, collection: str = "chunks"
    ) -> QdrantServerIndex:
        return cls(
            QdrantClient(url=url, api_key=api_key), dense_dim=dense_dim, collection=collection
        )

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        structs = [_point_struct(p) for p in points]
        with self._guard("store points"):
            for start in range(0, len(structs), UPSERT_BATCH):
                batch = structs[start : start + UPSERT_BATCH]
                self._client.upsert(self._collection, points=batch, wait=True)

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
        with self._guard("search"):
            paths = query_paths(dense, self._scoped(sparse, scope_filter))
            if not paths:
                return []
            if len(paths) == 1:
                points = self._search_one(paths[0], scope_filter, limit)
            else:
                points = self._search_fused(paths, scope_filter, limit)
        return [to_hit(p.id, p.score, p.payload) for p in points]

    def fetch(self, *, ids: Sequence[str], scope: AccessScope) -> list[VectorHit]:
        if scope.is_empty or not ids:
            return []
        scope_filter = _scope_filter(scope)
        id_filter = models.Filter(
            must=[*(scope_filter.must or []), models.HasIdCondition(has_id=list(ids))]
        )
        with self._guard("fetch points"):
            records, _ = self._client.scroll(
                self._collection, scroll_filter=id_filter, limit=len(ids), with_payload=True
            )
        return [to_hit(r.id, 0.0, r.payload) for r in records]

    def held_terms(
        self, *, terms: Sequence[int], document_ids: Sequence[int], scope: AccessScope
    ) -> set[int]:
        if scope.is_empty or not terms or not document_ids:
            return set()
        scope_filter = _scope_filter(scope)
        in_documents = models.FieldCondition(
            key=DOCUMENT_ID, match=models.MatchAny(any=[int(d) for d in document_ids])
        )
        held_filter = models.Filter(must=[*(scope_filter.must or []), in_documents])
        requests = [
            models.QueryRequest(
                query=_sparse(term),
                using=SPARSE,
                filter=held_filter,
                limit=1,
                with_payload=False,
                with_vector=False,
            )
            for term in single_terms(terms)
        ]
        with self._guard("search"):
            found = self._client.query_batch_points(self._collection, requests=requests)
        return {int(term) for term, response in zip(terms, found, strict=True) if response.points}

    def delete_document(self, document_id: int) -> None:
        self._delete(_document_filter(document_id))

    def delete_points(self, *, document_id: int, keep_ids: Sequence[str]) -> None:
        self._delete(_stale_filter(document_id, keep_ids))

    def set_acl(self, *, document_id: int, acl: Sequence[str]) -> None:
        with self._guard("update the ACL"):
            self._client.set_payload(
                self._collection,
                payload={ACL: list(acl)},
                points=_document_filter(document_id),
                wait=True,
            )

    def count(self, *, document_id: int | None = None) -> int:
        count_filter = None if document_id is None else _document_filter(document_id)
        with self._guard("count points"):
            result = self._client.count(self._collection, count_filter=count_filter, exact=True)
        return result.count

    def close(self) -> None:
        self._client.close()

    def _scoped(
        self, sparse: SparseVector | None, scope_filter: models.Filter
    ) -> SparseVector | None:
        """The query weighted by IDF over the readable chunks only (`qdrant_common`): one
        exact count, then one batch of one-term searches."""
        if sparse is None or not has_terms(sparse):
            return sparse
        total = self._client.count(self._collection, count_filter=scope_filter, exact=True).count
        if total == 0:
            return None
        requests = [
            models.QueryRequest(
                query=_sparse(term),
                using=SPARSE,
                filter=scope_filter,
                limit=total,
                with_payload=False,
                with_vector=False,
            )
            for term in one_term_queries(sparse)
        ]
        responses = self._client.query_batch_points(self._collection, requests=requests)
        frequencies = [len(response.points) for response in responses]
        return scoped_query(sparse, total=total, frequencies=frequencies)

    def _search_one(
        self, path: tuple[str, QueryVector], scope_filter: models.Filter, limit: int
    ) -> list[models.ScoredPoint]:
        name, vector = path
        response = self._client.query_points(
            self._collection,
            query=_query_vector(vector),
            using=name,
            query_filter=scope_filter,
            limit=limit,
            with_payload=True,
        )
        return response.points

    def _search_fused(
        self, paths: list[tuple[str, QueryVector]], scope_filter: models.Filter, limit: int
    ) -> list[models.ScoredPoint]:
        """RRF in the server; each prefetch carries the filter so its candidates are readable."""
        prefetches = [
            models.Prefetch(
                query=_query_vector(vector),
                using=name,
                filter=scope_filter,
                limit=prefetch_limit(limit),
            )
            for name, vector in paths
        ]
        response = self._client.query_points(
            self._collection,
            prefetch=prefetches,
            query=models.FusionQuery(fusion=models.Fusion.RRF),
            query_filter=scope_filter,
            limit=limit,
            with_payload=True,
        )
        return response.points

    def _delete(self, selector: models.Filter) -> None:
        with self._guard("delete points"):
            self._client.delete(
                self._collection, points_selector=models.FilterSelector(filter=selector), wait=True
            )

    def _ensure_collection(self) -> None:
        if not self._client.collection_exists(self._collection):
            self._create_collection()
        self._check_dense_dim()
        self._drop_global_idf()

    def _create_collection(self) -> None:
        try:
            self._client.create_collection(
                self._collection,
                vectors_config={
                    DENSE: models.VectorParams(
                        size=self._dense_dim, distance=models.Distance.COSINE
                    )
                },
                sparse_vectors_config={
                    SPARSE: models.SparseVectorParams(modifier=models.Modifier.NONE)
                },
            )
        except UnexpectedResponse as exc:
            if exc.status_code != 409:  # another process created it between check and create
                raise

    def _check_dense_dim(self) -> None:
        """A dimension mismatch would otherwise surface later as an obscure upsert error."""
        vectors = self._client.get_collection(self._collection).config.params.vectors
        params = vectors.get(DENSE) if isinstance(vectors, dict) else None
        if params is None or params.size != self._dense_dim:
            found = "no dense vector" if params is None else f"dense size {params.size}"
            raise StoreError(
                f"Qdrant collection '{self._collection}' at {self._where} has {found}, but the "
                f"embedding model needs {self._dense_dim}. Re-create the collection or fix the "
                "setting."
            )

    def _drop_global_idf(self) -> None:
        """Collections created before issue 11 let Qdrant apply its IDF over every point. The
        stored weights are the same either way (the modifier acts at query time only), so
        switching it off upgrades such a collection in place, without re-indexing."""
        sparse = self._client.get_collection(self._collection).config.params.sparse_vectors
        params = (sparse or {}).get(SPARSE)
        if params is not None and params.modifier == models.Modifier.IDF:
            self._client.update_collection(
                self._collection,
                sparse_vectors_config={
                    SPARSE: models.SparseVectorParams(modifier=models.Modifier.NONE)
                },
            )

    def _ensure_payload_indexes(self) -> None:
        schemas = [(f, models.PayloadSchemaType.KEYWORD) for f in KEYWORD_FIELDS]
        schemas += [(f, models.PayloadSchemaType.INTEGER) for f in INTEGER_FIELDS]
        for field, schema in schemas:
            self._client.create_payload_index(
                self._collection, field_name=field, field_schema=schema, wait=True
            )

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn the client's transport and API errors into the one error callers handle."""
        try:
            yield
        except _CLIENT_ERRORS as exc:
            reason = getattr(exc, "source", None) or exc
            raise StoreError(
                f"Qdrant at {self._where} could not {action} "
                f"(collection '{self._collection}'): {reason}"
            ) from exc


def _describe(client: QdrantClient) -> str:
    """The address the client was built with, for error messages."""
    options = client.init_options
    for key in ("url", "location", "host", "path"):
        if options.get(key):
            return str(options[key])
    return "the configured address"


def _point_struct(point: ChunkPoint) -> models.PointStruct:
    vector: dict[str, models.Vector] = {DENSE: [float(x) for x in point.dense]}
    if has_terms(point.sparse):
        vector[SPARSE] = _sparse(point.sparse)
    return models.PointStruct(id=point.id, vector=vector, payload=point.payload)


def _query_vector(vector: QueryVector) -> list[float] | models.SparseVector:
    return _sparse(vector) if isinstance(vector, SparseVector) else list(vector)


def _sparse(vector: SparseVector) -> models.SparseVector:
    return models.SparseVector(
        indices=[int(i) for i in vector.indices], values=[float(v) for v in vector.values]
    )


def _scope_filter(scope: AccessScope) -> models.Filter:
    return models.Filter(
        must=[
            models.FieldCondition(key=field, match=models.MatchAny(any=values))
            for field, values in scope_conditions(scope)
        ]
    )


def _document_filter(document_id: int) -> models.Filter:
    return models.Filter(must=[_equals(DOCUMENT_ID, document_id)])


def _stale_filter(document_id: int, keep_ids: Sequence[str]) -> models.Filter:
    """The document's points outside `keep_ids` (chunk ids are the point ids); no keep list
    means all of them, never a condition on an empty id set."""
    if not keep_ids:
        return _document_filter(document_id)
    return models.Filter(
        must=[_equals(DOCUMENT_ID, document_id)],
        must_not=[models.HasIdCondition(has_id=list(keep_ids))],
    )


def _equals(field: str, value: int) -> models.FieldCondition:
    return models.FieldCondition(key=field, match=models.MatchValue(value=int(value)))
