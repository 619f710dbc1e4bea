"""GraphStore on Ladybug, the in-process Cypher engine of the embedded default.

Why Ladybug and what it cannot do: README.md, "Embedded graph engine". The store folder holds
the database (`graph.lbug` and its WAL) and the FolderLock file; one process owns it. Inside
that process a mutex serialises calls, because the web server and the in-process worker share
one connection.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ladybug

from kb.stores.errors import StoreError
from kb.stores.graph_cypher import (
    CHUNK_ENTITY_KEYS,
    COUNT_CHUNKS,
    COUNT_DOCUMENT_CHUNKS,
    COUNT_ENTITIES,
    DELETE_CHUNKS,
    DELETE_ORPHAN_ENTITIES,
    DOCUMENT_CHUNK_IDS,
    SET_DOCUMENT_ACL,
    ChunkWrite,
    chunk_write,
    neighbourhood_parameters,
    neighbourhood_queries,
    path_row,
    stale_chunk_ids,
    write_statements,
)
from kb.stores.graph_scoring import rank_paths
from kb.stores.locking import FolderLock
from kb.stores.types import AccessScope, GraphChunk, GraphHit

DATABASE_NAME = "graph.lbug"

SCHEMA = (
    "CREATE NODE TABLE IF NOT EXISTS Chunk("
    "id STRING PRIMARY KEY, document_id INT64, collection_id INT64, acl STRING[])",
    "CREATE NODE TABLE IF NOT EXISTS Entity(key STRING PRIMARY KEY, name STRING, type STRING)",
    "CREATE REL TABLE IF NOT EXISTS MENTIONS(FROM Chunk TO Entity)",
    "CREATE REL TABLE IF NOT EXISTS RELATED("
    "FROM Entity TO Entity, weight DOUBLE, chunk_ids STRING[], chunk_weights DOUBLE[])",
)

# A supporting chunk mentions both ends of its edge (graph_cypher), so matching from the
# edge's source finds every edge the chunks support. The new lists are computed in Python
# (`remaining_support`): Ladybug has no list comprehension with WHERE.
CHUNK_SUPPORTED_EDGES = """
UNWIND $chunk_ids AS chunk_id
MATCH (:Chunk {id: chunk_id})-[:MENTIONS]->(a:Entity)-[r:RELATED]->(b:Entity)
WHERE chunk_id IN r.chunk_ids
RETURN DISTINCT a.key, b.key, r.chunk_ids, r.chunk_weights
"""

EDGE_SUPPORT = """
UNWIND $edges AS edge
MATCH (:Entity {key: edge.source})-[r:RELATED]->(:Entity {key: edge.target})
RETURN edge.source, edge.target, r.chunk_ids, r.chunk_weights
"""

CREATE_EDGES = """
UNWIND $edges AS edge
MATCH (a:Entity {key: edge.source}), (b:Entity {key: edge.target})
CREATE (a)-[:RELATED {weight: edge.weight, chunk_ids: edge.chunk_ids,
                      chunk_weights: edge.chunk_weights}]->(b)
"""

UPDATE_EDGE_SUPPORT = """
UNWIND $edges AS edge
MATCH (:Entity {key: edge.source})-[r:RELATED]->(:Entity {key: edge.target})
SET r.chunk_ids = edge.chunk_ids, r.chunk_weights = edge.chunk_weights, r.weight = edge.weight
"""

DELETE_EDGES = """
UNWIND $edges AS edge
MATCH (:Entity {key: edge.source})-[r:RELATED]->(:Entity {key: edge.target})
DELETE r
"""


def acl_shares(chunk: str) -> str:
    """Ladybug has `list_has_any`; `any(x IN … WHERE x IN $acl)` trips an engine assertion."""
    return f"list_has_any({chunk}.acl, $acl)"


class EmbeddedGraphStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._folder_lock = FolderLock(self.path, what="graph store")
        self._folder_lock.acquire()
        self._mutex = threading.RLock()
        try:
            self._db = ladybug.Database(self.path / DATABASE_NAME)
            self._conn = ladybug.Connection(self._db)
            for statement in SCHEMA:
                self._run(statement)
        except RuntimeError as exc:
            self._folder_lock.release()
            raise StoreError(f"Cannot open the embedded graph store at {self.path}: {exc}") from exc
        self._closed = False

    def upsert_chunks(self, chunks: Sequence[GraphChunk]) -> None:
        with self._mutex, self._transaction():
            writes = [chunk_write(chunk) for chunk in chunks]
            for statement, parameters in write_statements(writes, with_relations=False):
                self._run(statement, parameters)
            self._add_relation_support(writes)

    def _add_relation_support(self, writes: Sequence[ChunkWrite]) -> None:
        """Read the batch's edges once, merge support in Python, write each edge once: per-row
        list updates in Cypher cost ~0.1 s a round here. Safe because this process is the only
        writer and the caller holds the mutex and a transaction."""
        batch = batch_support(writes)
        if not batch:
            return
        edges = [{"source": s, "target": t} for s, t in batch]
        existing = {(str(r[0]), str(r[1])): (list(r[2]), list(r[3]))
                    for r in self._run(EDGE_SUPPORT, {"edges": edges})}  # fmt: skip
        rows = merged_support(batch, existing)
        known = [r for r in rows if (r["source"], r["target"]) in existing]
        new = [r for r in rows if (r["source"], r["target"]) not in existing]
        if known:
            self._run(UPDATE_EDGE_SUPPORT, {"edges": known})
        if new:  # CREATE, not MERGE: the read above proved they do not exist
            self._run(CREATE_EDGES, {"edges": new})

    def neighbourhood(
        self, *, entity_keys: Sequence[str], scope: AccessScope, hops: int, limit: int
    ) -> list[GraphHit]:
        queries = neighbourhood_queries(acl_shares, hops)
        if scope.is_empty or not entity_keys or limit <= 0:
            return []
        parameters = neighbourhood_parameters(entity_keys, scope)
        with self._mutex:
            records = [record for query in queries for record in self._run(query, parameters)]
        rows = [path_row(record) for record in records]
        return rank_paths(rows, limit=limit)

    def delete_document(self, document_id: int) -> None:
        self._delete_chunks(int(document_id), keep_chunk_ids=())

    def delete_stale_chunks(self, *, document_id: int, keep_chunk_ids: Sequence[str]) -> None:
        self._delete_chunks(int(document_id), keep_chunk_ids=keep_chunk_ids)

    def set_acl(self, *, document_id: int, acl: Sequence[str]) -> None:
        with self._mutex:
            parameters = {"document_id": int(document_id), "acl": [str(a) for a in acl]}
            self._run(SET_DOCUMENT_ACL, parameters)

    def count_chunks(self, *, document_id: int | None = None) -> int:
        if document_id is None:
            return self._count(COUNT_CHUNKS, {})
        return self._count(COUNT_DOCUMENT_CHUNKS, {"document_id": int(document_id)})

    def count_entities(self) -> int:
        return self._count(COUNT_ENTITIES, {})

    def close(self) -> None:
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            self._conn.close()
            self._db.close()
            self._folder_lock.release()

    def _delete_chunks(self, document_id: int, *, keep_chunk_ids: Sequence[str]) -> None:
        """Delete the document's chunks not in keep_chunk_ids, their support on RELATED edges
        and the entities no chunk mentions any more, in one transaction."""
        with self._mutex, self._transaction():
            rows = self._run(DOCUMENT_CHUNK_IDS, {"document_id": document_id})
            stale = stale_chunk_ids([row[0] for row in rows], keep_chunk_ids)
            if not stale:
                return
            chunks = {"chunk_ids": stale}
            keys = [str(row[0]) for row in self._run(CHUNK_ENTITY_KEYS, chunks)]
            edges = self._run(CHUNK_SUPPORTED_EDGES, chunks)
            updates, removals = remaining_support(edges, set(stale))
            if updates:
                self._run(UPDATE_EDGE_SUPPORT, {"edges": updates})
            if removals:
                self._run(DELETE_EDGES, {"edges": removals})
            self._run(DELETE_CHUNKS, chunks)
            if keys:
                self._run(DELETE_ORPHAN_ENTITIES, {"keys": keys})

    def _count(self, query: str, parameters: dict[str, Any]) -> int:
        with self._mutex:
            return int(self._run(query, parameters)[0][0])

    def _run(self, query: str, parameters: dict[str, Any] | None = None) -> list[list[Any]]:
        result = self._conn.execute(query, parameters or {})
        if isinstance(result, list):
            raise StoreError("one statement per call is expected")
        try:
            return [list(row) for row in result.get_all()]
        finally:
            result.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction per call: a failed batch leaves nothing half-written."""
        self._run("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self._run("ROLLBACK")
            raise
        self._run("COMMIT")


def remaining_support(
    edges: Sequence[Sequence[Any]], removed: set[str]
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Split the edges the removed chunks support into (edges keeping other support, with their
    new lists and summed weight) and (edges left without support, to delete)."""
    updates: dict[tuple[str, str], dict[str, Any]] = {}
    removals: dict[tuple[str, str], dict[str, str]] = {}
    for source, target, chunk_ids, chunk_weights in edges:
        support = zip(chunk_ids, chunk_weights, strict=True)
        kept = [(cid, float(w)) for cid, w in support if cid not in removed]
        pair = {"source": str(source), "target": str(target)}
        if kept:
            updates[(pair["source"], pair["target"])] = {
                **pair,
                "chunk_ids": [cid for cid, _ in kept],
                "chunk_weights": [w for _, w in kept],
                "weight": sum(w for _, w in kept),
            }
        else:
            removals[(pair["source"], pair["target"])] = pair
    return list(updates.values()), list(removals.values())


Support = dict[tuple[str, str], list[tuple[str, float]]]


def batch_support(writes: Sequence[ChunkWrite]) -> Support:
    """Per edge, the (chunk id, weight) pairs this batch adds, in chunk order."""
    support: Support = {}
    for write in writes:
        for relation in write.relations:
            edge = (relation["source"], relation["target"])
            support.setdefault(edge, []).append((write.chunk_id, float(relation["weight"])))
    return support


def merged_support(
    batch: Support, existing: dict[tuple[str, str], tuple[list[Any], list[Any]]]
) -> list[dict[str, Any]]:
    """Existing support plus the batch's, each chunk counted once (a retried batch adds none)."""
    rows = []
    for (source, target), added in batch.items():
        ids, weights = existing.get((source, target), ([], []))
        ids, weights = [str(i) for i in ids], [float(w) for w in weights]
        for chunk_id, weight in added:
            if chunk_id not in ids:
                ids.append(chunk_id)
                weights.append(weight)
        rows.append({"source": source, "target": target, "chunk_ids": ids,
                     "chunk_weights": weights, "weight": sum(weights)})  # fmt: skip
    return rows
