"""GraphStore on a Neo4j server (production, `NEO4J_URI` set).

Writes and the traversal are shared with the embedded adapter (`kb.stores.graph_cypher`,
`kb.stores.graph_traversal`); what is Neo4j-only here is the schema (uniqueness constraints
double as the MERGE indexes) and the ACL predicate. A write first MERGEs its chunk nodes, which
takes their write locks, before reading their stored state: two workers writing the same chunk
apply their deltas one after the other, never both over the same old state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from neo4j import Driver, GraphDatabase, ManagedTransaction, RoutingControl
from neo4j.exceptions import AuthError, ConfigurationError, ServiceUnavailable

from kb.stores.errors import StoreError
from kb.stores.graph_cypher import (
    COUNT_CHUNKS,
    COUNT_DOCUMENT_CHUNKS,
    COUNT_ENTITIES,
    SET_DOCUMENT_ACL,
    Runner,
    delete_document_chunks,
    upsert_chunks,
)
from kb.stores.graph_traversal import TraversalLimits, neighbourhood
from kb.stores.types import AccessScope, GraphChunk, GraphHit

SCHEMA = (
    "CREATE CONSTRAINT quarry_chunk_id IF NOT EXISTS FOR (c:Chunk) REQUIRE c.id IS UNIQUE",
    "CREATE CONSTRAINT quarry_entity_key IF NOT EXISTS FOR (e:Entity) REQUIRE e.key IS UNIQUE",
    "CREATE CONSTRAINT quarry_relation_key IF NOT EXISTS FOR (r:Relation) REQUIRE r.key IS UNIQUE",
    "CREATE INDEX quarry_chunk_document_id IF NOT EXISTS FOR (c:Chunk) ON (c.document_id)",
)


def acl_shares(chunk: str) -> str:
    return f"any(entry IN {chunk}.acl WHERE entry IN $acl)"


class Neo4jGraphStore:
    def __init__(
        self,
        uri: str,
        user: str,
        password: str,
        database: str | None = None,
        *,
        limits: TraversalLimits | None = None,
    ) -> None:
        self.uri = uri
        self.database = database
        self.limits = limits or TraversalLimits()
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
        if chunks:
            self._write(lambda tx: upsert_chunks(_runner(tx), chunks, merge=True))

    def neighbourhood(
        self, *, entity_keys: Sequence[str], scope: AccessScope, hops: int, limit: int
    ) -> list[GraphHit]:
        return neighbourhood(
            self._read,
            acl_shares,
            entity_keys=entity_keys,
            scope=scope,
            hops=hops,
            limit=limit,
            limits=self.limits,
        )

    def delete_document(self, document_id: int) -> None:
        self._delete_chunks(int(document_id), keep_chunk_ids=())

    def delete_stale_chunks(self, *, document_id: int, keep_chunk_ids: Sequence[str]) -> None:
        self._delete_chunks(int(document_id), keep_chunk_ids=[str(c) for c in keep_chunk_ids])

    def set_acl(self, *, document_id: int, acl: Sequence[str]) -> None:
        parameters = {"document_id": int(document_id), "acl": [str(a) for a in acl]}
        self._write(lambda tx: _runner(tx)(SET_DOCUMENT_ACL, parameters))

    def count_chunks(self, *, document_id: int | None = None) -> int:
        if document_id is None:
            return self._count(COUNT_CHUNKS, {})
        return self._count(COUNT_DOCUMENT_CHUNKS, {"document_id": int(document_id)})

    def count_entities(self) -> int:
        return self._count(COUNT_ENTITIES, {})

    def close(self) -> None:
        self._driver.close()

    def _delete_chunks(self, document_id: int, *, keep_chunk_ids: Sequence[str]) -> None:
        """Delete the document's chunks not in keep_chunk_ids, their relation support and the
        entities no chunk mentions any more, in one transaction."""
        self._write(
            lambda tx: delete_document_chunks(
                _runner(tx), document_id, keep_chunk_ids=keep_chunk_ids, merge=True
            )
        )

    def _count(self, query: str, parameters: dict[str, Any]) -> int:
        return int(self._read(query, parameters)[0][0])

    def _read(self, query: str, parameters: dict[str, Any]) -> list[Any]:
        with self._errors():
            records, _, _ = self._driver.execute_query(
                query, parameters, routing_=RoutingControl.READ, database_=self.database
            )
        return list(records)

    def _write(self, work: Callable[[ManagedTransaction], object]) -> None:
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


def _runner(tx: ManagedTransaction) -> Runner:
    def run(query: str, parameters: dict[str, Any]) -> list[Any]:
        return list(tx.run(query, parameters))

    return run
