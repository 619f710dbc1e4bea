"""Cypher and write bookkeeping shared by the embedded (Ladybug) and Neo4j graph adapters.

Statements both engines run live here, with the two ways of writing nodes by key
(`NodeUpsert`: the adapter picks one); the schema and the ACL predicate are engine-specific
(see the adapters and README.md, "Embedded graph engine").

Representation, chosen so that a write costs the same however large the graph grows and
deleting chunks is exact:

- A Chunk holds its own relation support: ``relations`` lists, per pair it supports,
  ``"source\\x1ftarget\\x1fweight"`` (canonical direction, the weight it gives the pair). One
  STRING[] rather than parallel lists: Ladybug binds an empty list parameter as STRING[], so an
  empty DOUBLE[] cannot be written from a parameter.
- A Relation node holds a pair's aggregates only: ``key`` is ``"source\\x1ftarget"`` (the
  smaller entity key first), ``weight`` the sum of its supporting chunks' weights and
  ``support`` their number; it is deleted when its support reaches 0. A node with an indexed
  key, not a RELATED edge between the two entities: Ladybug finds an edge between two given
  nodes by scanning one end's adjacency, so every write touching a common entity cost its
  degree (profiled at 10k chunks: 165 of 253 s of writes went to that MERGE).
- Entity ``mentions`` counts the chunks that mention it (the traversal's document frequency);
  an entity is deleted when it reaches 0.

Writes are deltas: the chunks' stored state (relations and mentions) is read, compared with
the new one in Python (`changes`), and only the difference is applied, each pair and entity
once per statement (Ladybug does not apply two UNWIND rows updating the same item one after
the other). Rewriting a chunk replaces its old contribution, so retries and
redeliveries never count twice (chunk ids are deterministic); deleting a chunk subtracts
exactly its own.

A chunk that supports a relation mentions both of its ends: the write links the chunk to the
relation's entities too (creating an entity named by its key if the chunk did not list it).
That invariant lets the traversal find a pair's readable support among the chunks mentioning
one end, and lets orphan cleanup look at mentions alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kb.stores.types import GraphChunk

Runner = Callable[[str, dict[str, Any]], Sequence[Sequence[Any]]]
"""Runs one statement inside the caller's transaction and returns its rows."""

AclPredicate = Callable[[str], str]
"""Given a Chunk variable name, the engine's Cypher for "its acl shares an element with $acl"."""

Edge = tuple[str, str]

SEPARATOR = "\x1f"


@dataclass(frozen=True)
class NodeUpsert:
    """Two ways to write nodes by key. Neo4j MERGEs (index-backed, and it locks the node, so
    concurrent workers never create it twice). Ladybug plans `UNWIND … MERGE` as a scan of the
    whole table joined with the rows, O(table) per statement, which made every write slower as
    the graph grew; `UNWIND … MATCH` on the primary key is a lookup per row, and `CREATE`
    scans nothing. So on Ladybug the keys are looked up (`find`), the missing nodes created and
    the others updated."""

    merge: str
    find: str
    create: str
    update: str | None = None


CHUNK_NODES = NodeUpsert(
    merge="""
UNWIND $rows AS row
MERGE (c:Chunk {id: row.key})
SET c.document_id = row.document_id, c.collection_id = row.collection_id, c.acl = row.acl
""",
    find="UNWIND $keys AS key MATCH (c:Chunk {id: key}) RETURN c.id",
    create="""
UNWIND $rows AS row
CREATE (:Chunk {id: row.key, document_id: row.document_id, collection_id: row.collection_id,
                acl: row.acl})
""",
    update="""
UNWIND $rows AS row
MATCH (c:Chunk {id: row.key})
SET c.document_id = row.document_id, c.collection_id = row.collection_id, c.acl = row.acl
""",
)

ENTITY_NODES = NodeUpsert(
    merge="""
UNWIND $rows AS row
MERGE (e:Entity {key: row.key})
ON CREATE SET e.name = row.name, e.type = row.type, e.mentions = 0
""",
    find="UNWIND $keys AS key MATCH (e:Entity {key: key}) RETURN e.key",
    create="""
UNWIND $rows AS row
CREATE (:Entity {key: row.key, name: row.name, type: row.type, mentions: 0})
""",
)

RELATION_NODES = NodeUpsert(
    merge="""
UNWIND $rows AS row
MERGE (r:Relation {key: row.key})
ON CREATE SET r.source = row.source, r.target = row.target, r.weight = 0.0, r.support = 0
SET r.weight = r.weight + row.weight, r.support = r.support + row.support
""",
    find="UNWIND $keys AS key MATCH (r:Relation {key: key}) RETURN r.key",
    create="""
UNWIND $rows AS row
CREATE (:Relation {key: row.key, source: row.source, target: row.target, weight: row.weight,
                   support: row.support})
""",
    update="""
UNWIND $rows AS row
MATCH (r:Relation {key: row.key})
SET r.weight = r.weight + row.weight, r.support = r.support + row.support
""",
)

# Read after the chunk nodes are written: Neo4j then holds their write locks, so a concurrent
# write of the same chunks waits and reads the state this one leaves. A chunk just created has
# no relations list (every written chunk gets one), so its mentions need no read.
CHUNK_RELATIONS = """
UNWIND $chunk_ids AS chunk_id
MATCH (c:Chunk {id: chunk_id})
RETURN c.id, c.relations
"""

CHUNK_MENTIONS = """
UNWIND $chunk_ids AS chunk_id
MATCH (c:Chunk {id: chunk_id})-[:MENTIONS]->(e:Entity)
RETURN c.id, e.key
"""

SET_CHUNK_RELATIONS = """
UNWIND $chunks AS chunk
MATCH (c:Chunk {id: chunk.id})
SET c.relations = chunk.relations
"""

# CREATE, not MERGE: the delta says the mention does not exist. Two MATCH clauses, because
# Ladybug plans one MATCH of two nodes as a cross product of two table scans, and two as two
# primary key lookups.
CREATE_MENTIONS = """
UNWIND $mentions AS mention
MATCH (c:Chunk {id: mention.chunk_id})
WITH c, mention
MATCH (e:Entity {key: mention.key})
CREATE (c)-[:MENTIONS]->(e)
"""

DELETE_MENTIONS = """
UNWIND $mentions AS mention
MATCH (c:Chunk {id: mention.chunk_id})-[m:MENTIONS]->(e:Entity {key: mention.key})
DELETE m
"""

ADD_MENTION_COUNTS = """
UNWIND $entities AS entity
MATCH (e:Entity {key: entity.key})
SET e.mentions = e.mentions + entity.delta
"""

DELETE_UNSUPPORTED_RELATIONS = """
UNWIND $keys AS relation_key
MATCH (r:Relation {key: relation_key})
WHERE r.support <= 0
DELETE r
"""

DOCUMENT_CHUNK_IDS = """
MATCH (c:Chunk) WHERE c.document_id = $document_id
RETURN c.id
"""

DELETE_CHUNKS = """
UNWIND $chunk_ids AS chunk_id
MATCH (c:Chunk {id: chunk_id})
DETACH DELETE c
"""

DELETE_ORPHAN_ENTITIES = """
UNWIND $keys AS entity_key
MATCH (e:Entity {key: entity_key})
WHERE e.mentions <= 0
DETACH DELETE e
"""

SET_DOCUMENT_ACL = """
MATCH (c:Chunk) WHERE c.document_id = $document_id
SET c.acl = $acl
"""

COUNT_CHUNKS = "MATCH (c:Chunk) RETURN count(c)"

COUNT_DOCUMENT_CHUNKS = "MATCH (c:Chunk) WHERE c.document_id = $document_id RETURN count(c)"

COUNT_ENTITIES = "MATCH (e:Entity) RETURN count(e)"


@dataclass(frozen=True)
class ChunkState:
    """What one chunk contributes to the graph: the entities it mentions and, per edge in
    canonical direction, the weight it gives it."""

    mentions: frozenset[str] = frozenset()
    relations: Mapping[Edge, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkWrite:
    """One chunk to write, deduplicated in Python so that "first seen wins" does not depend on
    how an engine orders the rows of one UNWIND."""

    node: dict[str, Any]
    entities: list[dict[str, str]]
    state: ChunkState

    @property
    def chunk_id(self) -> str:
        return str(self.node["key"])


def chunk_write(chunk: GraphChunk) -> ChunkWrite:
    """Entities first seen win (name, type); relations are put in canonical direction, self
    relations dropped, and a pair listed twice keeps its first weight."""
    entities: dict[str, dict[str, str]] = {}
    for entity in chunk.entities:
        entities.setdefault(
            entity.key, {"key": entity.key, "name": entity.name, "type": entity.type}
        )
    relations: dict[Edge, float] = {}
    for relation in chunk.relations:
        if relation.source_key == relation.target_key:
            continue
        source, target = sorted((relation.source_key, relation.target_key))
        relations.setdefault((source, target), float(relation.weight))
        for key in (source, target):
            entities.setdefault(key, {"key": key, "name": key, "type": "concept"})
    node = {
        "key": chunk.id,
        "document_id": int(chunk.document_id),
        "collection_id": int(chunk.collection_id),
        "acl": [str(entry) for entry in chunk.acl],
    }
    return ChunkWrite(node, list(entities.values()), ChunkState(frozenset(entities), relations))


def relation_entry(edge: Edge, weight: float) -> str:
    """repr keeps the float exact, so a stored weight is subtracted exactly."""
    return SEPARATOR.join((edge[0], edge[1], repr(float(weight))))


def relation_key(edge: Edge) -> str:
    return SEPARATOR.join(edge)


def parse_relation(entry: str) -> tuple[Edge, float]:
    source, target, weight = str(entry).rsplit(SEPARATOR, 2)
    return (source, target), float(weight)


@dataclass
class Changes:
    """The difference between chunks' stored and new states, per statement that applies it."""

    mention_adds: list[dict[str, str]] = field(default_factory=list)
    mention_removals: list[dict[str, str]] = field(default_factory=list)
    mention_counts: dict[str, int] = field(default_factory=dict)
    relations: list[dict[str, Any]] = field(default_factory=list)
    weakened_relations: list[str] = field(default_factory=list)
    relation_lists: list[dict[str, Any]] = field(default_factory=list)


def changes(old: Mapping[str, ChunkState], new: Mapping[str, ChunkState]) -> Changes:
    """What turns the `old` states of these chunks into the `new` ones (a chunk missing from
    `old` is new, one missing from `new` is deleted). A pair whose supporting chunks and
    weights are unchanged is left alone, so rewriting the same chunks changes nothing, not even
    by float rounding. Every new chunk gets a relations list, even an empty one: that is how
    `stored_states` tells a written chunk from one just created."""
    result = Changes()
    before: dict[Edge, dict[str, float]] = {}
    after: dict[Edge, dict[str, float]] = {}
    empty = ChunkState()
    for chunk_id in dict.fromkeys([*old, *new]):
        was, now = old.get(chunk_id, empty), new.get(chunk_id)
        _mention_changes(result, chunk_id, was, now or empty)
        for edge, weight in was.relations.items():
            before.setdefault(edge, {})[chunk_id] = weight
        for edge, weight in (now or empty).relations.items():
            after.setdefault(edge, {})[chunk_id] = weight
        if now is not None and (chunk_id not in old or dict(now.relations) != was.relations):
            result.relation_lists.append(_relation_list(chunk_id, now))
    for edge in dict.fromkeys([*before, *after]):
        was_support, now_support = before.get(edge, {}), after.get(edge, {})
        if was_support == now_support:
            continue
        key = relation_key(edge)
        result.relations.append(
            {
                "key": key,
                "source": edge[0],
                "target": edge[1],
                "weight": sum(now_support.values()) - sum(was_support.values()),
                "support": len(now_support) - len(was_support),
            }
        )
        if len(now_support) < len(was_support):
            result.weakened_relations.append(key)
    result.mention_counts = {k: n for k, n in result.mention_counts.items() if n}
    return result


def _mention_changes(result: Changes, chunk_id: str, was: ChunkState, now: ChunkState) -> None:
    for key in sorted(now.mentions - was.mentions):
        result.mention_adds.append({"chunk_id": chunk_id, "key": key})
        result.mention_counts[key] = result.mention_counts.get(key, 0) + 1
    for key in sorted(was.mentions - now.mentions):
        result.mention_removals.append({"chunk_id": chunk_id, "key": key})
        result.mention_counts[key] = result.mention_counts.get(key, 0) - 1


def _relation_list(chunk_id: str, state: ChunkState) -> dict[str, Any]:
    edges = sorted(state.relations)
    return {"id": chunk_id, "relations": [relation_entry(e, state.relations[e]) for e in edges]}


def stored_states(run: Runner, chunk_ids: Sequence[str]) -> dict[str, ChunkState]:
    """The stored state of those of the chunks that were written before. A chunk node without
    a relations list was just created by this write: it has nothing stored, and reading its
    mentions (a third of a batch's write time when done for every chunk) is skipped."""
    if not chunk_ids:
        return {}
    relations: dict[str, dict[Edge, float]] = {}
    for chunk_id, entries in run(CHUNK_RELATIONS, {"chunk_ids": list(chunk_ids)}):
        if entries is not None:
            relations[str(chunk_id)] = dict(map(parse_relation, entries))
    mentions: dict[str, set[str]] = {}
    if relations:
        for chunk_id, key in run(CHUNK_MENTIONS, {"chunk_ids": list(relations)}):
            mentions.setdefault(str(chunk_id), set()).add(str(key))
    return {
        chunk_id: ChunkState(frozenset(mentions.get(chunk_id, ())), edges)
        for chunk_id, edges in relations.items()
    }


def upsert_chunks(run: Runner, chunks: Sequence[GraphChunk], *, merge: bool) -> None:
    """Write chunks (a chunk listed twice: the last one wins) as a delta over what is stored;
    `merge` picks the NodeUpsert way. The caller provides the transaction."""
    writes = {write.chunk_id: write for write in map(chunk_write, chunks)}
    if not writes:
        return
    upsert_nodes(run, CHUNK_NODES, [write.node for write in writes.values()], merge=merge)
    old = stored_states(run, list(writes))
    delta = changes(old, {chunk_id: write.state for chunk_id, write in writes.items()})
    added = {mention["key"] for mention in delta.mention_adds}
    entities: dict[str, dict[str, str]] = {}
    for write in writes.values():  # the first chunk to name an entity wins
        for entity in write.entities:
            if entity["key"] in added:
                entities.setdefault(entity["key"], entity)
    _apply(run, delta, entities=list(entities.values()), merge=merge)


def delete_chunks(run: Runner, chunk_ids: Sequence[str], *, merge: bool) -> None:
    """Delete chunks (ids of existing chunks, not empty), subtract exactly their support from
    Relation aggregates and their mentions from entity counts, and delete relations and
    entities left with none. The caller provides the transaction."""
    delta = changes(stored_states(run, chunk_ids), {})
    delta.mention_removals = []  # DETACH DELETE removes them with the chunks
    _apply(run, delta, entities=[], merge=merge)
    run(DELETE_CHUNKS, {"chunk_ids": list(chunk_ids)})
    _delete_orphans(run, delta)


def upsert_nodes(
    run: Runner, statements: NodeUpsert, rows: list[dict[str, Any]], *, merge: bool
) -> None:
    """Rows (unique by "key") written one of the two NodeUpsert ways."""
    if not rows:
        return
    if merge:
        run(statements.merge, {"rows": rows})
        return
    found = {str(row[0]) for row in run(statements.find, {"keys": [r["key"] for r in rows]})}
    new = [row for row in rows if row["key"] not in found]
    if new:
        run(statements.create, {"rows": new})
    known = [row for row in rows if row["key"] in found]
    if known and statements.update:
        run(statements.update, {"rows": known})


def _apply(run: Runner, delta: Changes, *, entities: list[dict[str, str]], merge: bool) -> None:
    """Statements with an empty list are skipped: Ladybug cannot UNWIND one."""
    upsert_nodes(run, ENTITY_NODES, entities, merge=merge)
    statements: list[tuple[str, str, list[Any]]] = [
        (SET_CHUNK_RELATIONS, "chunks", delta.relation_lists),
        (CREATE_MENTIONS, "mentions", delta.mention_adds),
        (DELETE_MENTIONS, "mentions", delta.mention_removals),
        (ADD_MENTION_COUNTS, "entities", _counts(delta)),
    ]
    for statement, name, rows in statements:
        if rows:
            run(statement, {name: rows})
    upsert_nodes(run, RELATION_NODES, delta.relations, merge=merge)
    if delta.weakened_relations:
        run(DELETE_UNSUPPORTED_RELATIONS, {"keys": delta.weakened_relations})
    if delta.mention_removals:
        _delete_orphans(run, delta)


def _counts(delta: Changes) -> list[dict[str, Any]]:
    return [{"key": key, "delta": n} for key, n in delta.mention_counts.items()]


def _delete_orphans(run: Runner, delta: Changes) -> None:
    keys = [key for key, n in delta.mention_counts.items() if n < 0]
    if keys:
        run(DELETE_ORPHAN_ENTITIES, {"keys": keys})


def stale_chunk_ids(document_chunk_ids: Sequence[Any], keep_chunk_ids: Sequence[str]) -> list[str]:
    """The document's chunks to delete: all of them but those listed in keep_chunk_ids (an
    empty keep list deletes the whole document)."""
    keep = {str(chunk_id) for chunk_id in keep_chunk_ids}
    return [str(c) for c in dict.fromkeys(document_chunk_ids) if str(c) not in keep]


def delete_document_chunks(
    run: Runner, document_id: int, *, keep_chunk_ids: Sequence[str], merge: bool
) -> None:
    """Delete the document's chunks not in keep_chunk_ids, read in the same transaction: a chunk
    written concurrently for the document is neither deleted nor stripped of its support."""
    rows = run(DOCUMENT_CHUNK_IDS, {"document_id": int(document_id)})
    stale = stale_chunk_ids([row[0] for row in rows], keep_chunk_ids)
    if stale:
        delete_chunks(run, stale, merge=merge)
