"""GraphStore on a Neo4j server (production, `NEO4J_URI` set).

Shared statements come from `kb.stores.graph_cypher`; what is Neo4j-only here is the schema
(uniqueness constraints double as the MERGE indexes), the ACL predicate, and removing deleted
chunks' support from RELATED edges with list comprehensions inside SET, which makes Neo4j
lock each edge before reading its lists so that concurrent workers never lose an update.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from neo4j import Driver, GraphDatabase, ManagedTransaction, RoutingControl
from neo4j.exceptions import AuthError, ConfigurationError, ServiceUnavailable

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
    chunk_write,
    neighbourhood_parameters,
    neighbourhood_queries,
    path_row,
    stale_chunk_ids,
    write_statements,
)
from kb.stores.graph_scoring import rank_paths
from kb.stores.types import AccessScope, GraphChunk, GraphHit

SCHEMA = (
    "CREATE CONSTRAINT quarry_chunk_id IF NOT EXISTS FOR (c:Chunk) REQUIRE c.id IS UNIQUE",
    "CREATE CONSTRAINT quarry_entity_key IF NOT EXISTS FOR (e:Entity) REQUIRE e.key IS UNIQUE",
    "CREATE INDEX quarry_chunk_document_id IF NOT EXISTS FOR (c:Chunk) ON (c.document_id)",
)

# A supporting chunk mentions both ends of its edge (graph_cypher), so matching from the
# edge's source finds every edge the chunks support. chunk_weights is assigned before
# chunk_ids because it is filtered by position in the old chunk_ids.
REMOVE_CHUNK_SUPPORT = """
UNWIND $chunk_ids AS chunk_id
MATCH (:Chunk {id: chunk_id})-[:MENTIONS]->(:Entity)-[r:RELATED]->(:Entity)
WHERE chunk_id IN r.chunk_ids
WITH DISTINCT r
SET r.chunk_weights = [i IN range(0, size(r.chunk_ids) - 1)
                       WHERE NOT r.chunk_ids[i] IN $chunk_ids | r.chunk_weights[i]],
    r.chunk_ids = [chunk_id IN r.chunk_ids WHERE NOT chunk_id IN $chunk_ids]
SET r.weight = reduce(total = 0.0, w IN r.chunk_weights | total + w)
WITH r WHERE size(r.chunk_ids) = 0
DELETE r
"""


def acl_shares(chunk: str) -> str:
    return f"any(entry IN {chunk}.acl WHERE entry IN $acl)"


class Neo4jGraphStore:
    def __init__(self, uri: str, user: str, password: str, database: str | None = None) -> None:
        self.uri = uri
        self.database = database
        try:
            self._driver: Driver = GraphDatabase.driver(uri, auth=(user, password))
        except (ConfigurationError, ValueError) as exc:
            raise StoreError(f"Neo4j URI {uri!r} is not usable: {exc}") from exc
        try:
            with self._errors():
                self._driver.verify_connectivity()
                for statement in SCHEMA:
                    self._driver.execute_query(statement, database_=database)
        except StoreError:
            self._driver.close()
            raise

    def upsert_chunks(self, chunks: Sequence[GraphChunk]) -> None:
        statements = write_statements([chunk_write(chunk) for chunk in chunks])
        if statements:
            self._write(lambda tx: _run_all(tx, statements))

    def neighbourhood(
        self, *, entity_keys: Sequence[str], scope: AccessScope, hops: int, limit: int
    ) -> list[GraphHit]:
        queries = neighbourhood_queries(acl_shares, hops)
        if scope.is_empty or not entity_keys or limit <= 0:
            return []
        parameters = neighbourhood_parameters(entity_keys, scope)
        rows = [path_row(record) for query in queries for record in self._read(query, parameters)]
        return rank_paths(rows, limit=limit)

    def delete_document(self, document_id: int) -> None:
        self._write(lambda tx: _delete_chunks(tx, int(document_id), keep_chunk_ids=()))

    def delete_stale_chunks(self, *, document_id: int, keep_chunk_ids: Sequence[str]) -> None:
        keep = [str(chunk_id) for chunk_id in keep_chunk_ids]
        self._write(lambda tx: _delete_chunks(tx, int(document_id), keep_chunk_ids=keep))

    def set_acl(self, *, document_id: int, acl: Sequence[str]) -> None:
        parameters = {"document_id": int(document_id), "acl": [str(a) for a in acl]}
        self._write(lambda tx: _run_all(tx, [(SET_DOCUMENT_ACL, parameters)]))

    def count_chunks(self, *, document_id: int | None = None) -> int:
        if document_id is None:
            return self._count(COUNT_CHUNKS, {})
        return self._count(COUNT_DOCUMENT_CHUNKS, {"document_id": int(document_id)})

    def count_entities(self) -> int:
        return self._count(COUNT_ENTITIES, {})

    def close(self) -> None:
        self._driver.close()

    def _count(self, query: str, parameters: dict[str, Any]) -> int:
        return int(self._read(query, parameters)[0][0])

    def _read(self, query: str, parameters: dict[str, Any]) -> list[Any]:
        with self._errors():
            records, _, _ = self._driver.execute_query(
                query, parameters, routing_=RoutingControl.READ, database_=self.database
            )
        return list(records)

    def _write(self, work: Callable[[ManagedTransaction], None]) -> None:
        """One managed transaction per call: the driver retries it on transient errors, and a
        failure leaves nothing half-written."""
        with self._errors(), self._driver.session(database=self.database) as session:
            session.execute_write(work)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except AuthError as exc:
            raise StoreError(f"Neo4j at {self.uri} rejected the credentials: {exc}") from exc
        except ServiceUnavailable as exc:
            raise StoreError(f"Neo4j at {self.uri} is unreachable: {exc}") from exc


def _run_all(tx: ManagedTransaction, statements: Sequence[tuple[str, dict[str, Any]]]) -> None:
    for query, parameters in statements:
        tx.run(query, parameters).consume()


def _delete_chunks(
    tx: ManagedTransaction, document_id: int, *, keep_chunk_ids: Sequence[str]
) -> None:
    """Delete the document's chunks not in keep_chunk_ids, their support on RELATED edges and
    the entities no chunk mentions any more."""
    rows = tx.run(DOCUMENT_CHUNK_IDS, {"document_id": document_id})
    stale = stale_chunk_ids([record[0] for record in rows], keep_chunk_ids)
    if not stale:
        return
    chunks = {"chunk_ids": stale}
    keys = [record[0] for record in tx.run(CHUNK_ENTITY_KEYS, chunks)]
    statements: list[tuple[str, dict[str, Any]]] = [
        (REMOVE_CHUNK_SUPPORT, chunks),
        (DELETE_CHUNKS, chunks),
    ]
    if keys:
        statements.append((DELETE_ORPHAN_ENTITIES, {"keys": keys}))
    _run_all(tx, statements)
