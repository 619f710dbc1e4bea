"""GraphStore on Ladybug, the in-process Cypher engine of the embedded default.

Why Ladybug and what it cannot do: README.md, "Embedded graph engine". The store folder holds
the database (`graph.lbug` and its WAL) and the FolderLock file; one process owns it. Inside
that process a mutex serialises calls, because the web server and the in-process worker share
one connection. Writes and the traversal are shared with Neo4j (`graph_cypher`,
`graph_traversal`); only the schema and the ACL predicate are Ladybug's own.
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
    COUNT_CHUNKS,
    COUNT_DOCUMENT_CHUNKS,
    COUNT_ENTITIES,
    SET_DOCUMENT_ACL,
    delete_document_chunks,
    upsert_chunks,
)
from kb.stores.graph_traversal import TraversalLimits, neighbourhood
from kb.stores.locking import FolderLock
from kb.stores.types import AccessScope, GraphChunk, GraphHit

DATABASE_NAME = "graph.lbug"

SCHEMA = (
    "CREATE NODE TABLE IF NOT EXISTS Chunk("
    "id STRING PRIMARY KEY, document_id INT64, collection_id INT64, acl STRING[], "
    "relations STRING[])",
    "CREATE NODE TABLE IF NOT EXISTS Entity("
    "key STRING PRIMARY KEY, name STRING, type STRING, mentions INT64)",
    "CREATE REL TABLE IF NOT EXISTS MENTIONS(FROM Chunk TO Entity)",
    "CREATE NODE TABLE IF NOT EXISTS Relation("
    "key STRING PRIMARY KEY, source STRING, target STRING, weight DOUBLE, support INT64)",
)

# CREATE ... IF NOT EXISTS would keep an older layout as it is (and add to it), so the tables
# found are checked first. RELATED edges carrying chunk id lists are the layout before.
EXPECTED_COLUMNS = {"Chunk": {"relations"}, "Entity": {"mentions"}}
OLD_TABLES = {"RELATED"}


def acl_shares(chunk: str) -> str:
    """Ladybug has `list_has_any`; `any(x IN … WHERE x IN $acl)` trips an engine assertion."""
    return f"list_has_any({chunk}.acl, $acl)"


class EmbeddedGraphStore:
    def __init__(self, path: Path, *, limits: TraversalLimits | None = None) -> None:
        self.path = Path(path)
        self.limits = limits or TraversalLimits()
        self._folder_lock = FolderLock(self.path, what="graph store")
        self._folder_lock.acquire()
        self._mutex = threading.RLock()
        try:
            self._db = ladybug.Database(self.path / DATABASE_NAME)
            self._conn = ladybug.Connection(self._db)
            self._check_layout()
            for statement in SCHEMA:
                self._run(statement)
        except (RuntimeError, StoreError) as exc:
            self._folder_lock.release()
            raise StoreError(f"Cannot open the embedded graph store at {self.path}: {exc}") from exc
        self._closed = False

    def upsert_chunks(self, chunks: Sequence[GraphChunk]) -> None:
        with self._mutex, self._transaction():
            upsert_chunks(self._run, chunks, merge=False)

    def neighbourhood(
        self, *, entity_keys: Sequence[str], scope: AccessScope, hops: int, limit: int
    ) -> list[GraphHit]:
        with self._mutex:
            return neighbourhood(
                self._run,
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
        """Delete the document's chunks not in keep_chunk_ids, their relation support and the
        entities no chunk mentions any more, in one transaction."""
        with self._mutex, self._transaction():
            delete_document_chunks(
                self._run, document_id, keep_chunk_ids=keep_chunk_ids, merge=False
            )

    def _check_layout(self) -> None:
        tables = {str(row[1]) for row in self._run("CALL show_tables() RETURN *")}
        outdated = sorted(tables & OLD_TABLES)
        for table in sorted(tables & set(EXPECTED_COLUMNS)):
            rows = self._run(f"CALL table_info('{table}') RETURN *")
            if not EXPECTED_COLUMNS[table] <= {str(row[1]) for row in rows}:
                outdated.append(table)
        if outdated:
            raise StoreError(
                f"{DATABASE_NAME} was written by an older version of Quarry (tables "
                f"{', '.join(outdated)}); delete {self.path} and ingest the documents again "
                "to re-index them"
            )

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
