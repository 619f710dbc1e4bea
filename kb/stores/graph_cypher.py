"""Cypher and parameters shared by the embedded (Ladybug) and Neo4j graph adapters.

Only statements that both engines run unchanged live here; schema, the ACL predicate and the
removal of deleted chunks' support from RELATED edges are engine-specific (see the adapters and
README.md, "Embedded graph engine").

Representation of RELATED support, chosen so that deleting chunks is exact: ``chunk_ids``
lists the supporting chunks, ``chunk_weights`` (parallel to it) the weight each of them
contributed, and ``weight`` is their sum. Removing a chunk removes exactly its own contribution;
an edge with no supporting chunk left is deleted. Deleting a document and deleting the chunks of
its previous version (all but the new ids) are one operation on a list of chunk ids. An edge is
stored once, directed from the smaller entity key to the larger, and traversed in both
directions.

A chunk that supports a relation mentions both of its ends: the upsert links the chunk to the
relation's entities too (creating an entity named by its key if the chunk did not list it).
That invariant lets the neighbourhood follow an edge only when one of its supporting chunks is
readable by the caller, and lets orphan cleanup look at MENTIONS alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kb.stores.graph_scoring import PathRow
from kb.stores.types import AccessScope, GraphChunk

AclPredicate = Callable[[str], str]
"""Given a Chunk variable name, the engine's Cypher for "its acl shares an element with $acl"."""

MAX_HOPS = 2

MERGE_ENTITIES = """
UNWIND $entities AS entity
MERGE (e:Entity {key: entity.key})
ON CREATE SET e.name = entity.name, e.type = entity.type
"""

MERGE_CHUNKS = """
UNWIND $chunks AS chunk
MERGE (c:Chunk {id: chunk.id})
SET c.document_id = chunk.document_id, c.collection_id = chunk.collection_id, c.acl = chunk.acl
"""

MERGE_MENTIONS = """
UNWIND $mentions AS mention
MATCH (c:Chunk {id: mention.chunk_id}), (e:Entity {key: mention.key})
MERGE (c)-[:MENTIONS]->(e)
"""

# One row per edge per statement: Ladybug does not apply two rows updating the same edge in one
# UNWIND one after the other, so support for an edge from several chunks goes in rounds
# (`relation_rounds`). The idempotence test sits inside SET (not in a WHERE before it) so that
# Neo4j takes the relationship's write lock before reading the lists; chunk_ids is assigned
# last because the other two items test it.
ADD_RELATION_SUPPORT = """
UNWIND $relations AS rel
MATCH (a:Entity {key: rel.source}), (b:Entity {key: rel.target})
MERGE (a)-[r:RELATED]->(b)
ON CREATE SET r.weight = 0.0, r.chunk_ids = [], r.chunk_weights = []
SET r.chunk_weights = CASE WHEN rel.chunk_id IN r.chunk_ids THEN r.chunk_weights
                           ELSE r.chunk_weights + [rel.weight] END,
    r.weight = CASE WHEN rel.chunk_id IN r.chunk_ids THEN r.weight ELSE r.weight + rel.weight END,
    r.chunk_ids = CASE WHEN rel.chunk_id IN r.chunk_ids THEN r.chunk_ids
                       ELSE r.chunk_ids + [rel.chunk_id] END
"""

DOCUMENT_CHUNK_IDS = """
MATCH (c:Chunk) WHERE c.document_id = $document_id
RETURN c.id
"""

# Deleting chunks works on an explicit, non-empty list of ids (read from DOCUMENT_CHUNK_IDS in
# the same transaction, minus those to keep): Ladybug cannot UNWIND an empty list, and a chunk
# written concurrently for the document is neither deleted nor stripped of its support.
CHUNK_ENTITY_KEYS = """
UNWIND $chunk_ids AS chunk_id
MATCH (:Chunk {id: chunk_id})-[:MENTIONS]->(e:Entity)
RETURN DISTINCT e.key
"""

DELETE_CHUNKS = """
UNWIND $chunk_ids AS chunk_id
MATCH (c:Chunk {id: chunk_id})
DETACH DELETE c
"""

DELETE_ORPHAN_ENTITIES = """
UNWIND $keys AS entity_key
MATCH (e:Entity {key: entity_key})
WHERE NOT EXISTS { MATCH (e)<-[:MENTIONS]-(:Chunk) }
DETACH DELETE e
"""

SET_DOCUMENT_ACL = """
MATCH (c:Chunk) WHERE c.document_id = $document_id
SET c.acl = $acl
"""

COUNT_CHUNKS = "MATCH (c:Chunk) RETURN count(c)"

COUNT_DOCUMENT_CHUNKS = "MATCH (c:Chunk) WHERE c.document_id = $document_id RETURN count(c)"

COUNT_ENTITIES = "MATCH (e:Entity) RETURN count(e)"


def stale_chunk_ids(document_chunk_ids: Sequence[Any], keep_chunk_ids: Sequence[str]) -> list[str]:
    """The document's chunks to delete: all of them but those listed in keep_chunk_ids (an
    empty keep list deletes the whole document)."""
    keep = {str(chunk_id) for chunk_id in keep_chunk_ids}
    return [str(c) for c in dict.fromkeys(document_chunk_ids) if str(c) not in keep]


@dataclass(frozen=True)
class ChunkWrite:
    """Parameters for writing one chunk, deduplicated in Python so that "first seen wins" does
    not depend on how an engine orders the rows of one UNWIND."""

    chunk_id: str
    document_id: int
    collection_id: int
    acl: list[str]
    entities: list[dict[str, str]] = field(default_factory=list)
    relations: list[dict[str, Any]] = field(default_factory=list)


def write_statements(
    writes: Sequence[ChunkWrite], *, with_relations: bool = True
) -> list[tuple[str, dict[str, Any]]]:
    """A few UNWIND statements that write a whole batch of chunks, in order: entities, chunks,
    mentions, then (unless the adapter does it itself) relation support in rounds. Empty lists
    are left out: Ladybug cannot bind the element type of an empty list."""
    entities: dict[str, dict[str, str]] = {}
    for write in writes:  # the first chunk to name an entity wins, as if written one by one
        for entity in write.entities:
            entities.setdefault(entity["key"], entity)
    nodes = {
        w.chunk_id: {
            "id": w.chunk_id,
            "document_id": w.document_id,
            "collection_id": w.collection_id,
            "acl": w.acl,
        }
        for w in writes
    }
    mentions = list(
        {
            (w.chunk_id, e["key"]): {"chunk_id": w.chunk_id, "key": e["key"]}
            for w in writes
            for e in w.entities
        }.values()
    )
    statements: list[tuple[str, dict[str, Any]]] = []
    if entities:
        statements.append((MERGE_ENTITIES, {"entities": list(entities.values())}))
    if nodes:
        statements.append((MERGE_CHUNKS, {"chunks": list(nodes.values())}))
    if mentions:
        statements.append((MERGE_MENTIONS, {"mentions": mentions}))
    if with_relations:
        rounds = relation_rounds(writes)
        statements += [(ADD_RELATION_SUPPORT, {"relations": rows}) for rows in rounds]
    return statements


def relation_rounds(writes: Sequence[ChunkWrite]) -> list[list[dict[str, Any]]]:
    """Support rows grouped so that no edge appears twice in one round."""
    rounds: list[list[dict[str, Any]]] = []
    seen: dict[tuple[str, str], int] = {}
    for write in writes:
        for relation in write.relations:
            edge = (relation["source"], relation["target"])
            number = seen.get(edge, 0)
            seen[edge] = number + 1
            if number == len(rounds):
                rounds.append([])
            rounds[number].append({**relation, "chunk_id": write.chunk_id})
    return rounds


def chunk_write(chunk: GraphChunk) -> ChunkWrite:
    """Entities first seen win (name, type); relations are put in canonical direction, self
    relations dropped, and a pair listed twice keeps its first weight."""
    entities: dict[str, dict[str, str]] = {}
    for entity in chunk.entities:
        entities.setdefault(
            entity.key, {"key": entity.key, "name": entity.name, "type": entity.type}
        )
    relations: dict[tuple[str, str], dict[str, Any]] = {}
    for relation in chunk.relations:
        if relation.source_key == relation.target_key:
            continue
        source, target = sorted((relation.source_key, relation.target_key))
        relations.setdefault(
            (source, target), {"source": source, "target": target, "weight": float(relation.weight)}
        )
        for key in (source, target):
            entities.setdefault(key, {"key": key, "name": key, "type": "concept"})
    return ChunkWrite(
        chunk_id=chunk.id,
        document_id=int(chunk.document_id),
        collection_id=int(chunk.collection_id),
        acl=[str(entry) for entry in chunk.acl],
        entities=list(entities.values()),
        relations=list(relations.values()),
    )


def neighbourhood_parameters(entity_keys: Sequence[str], scope: AccessScope) -> dict[str, Any]:
    return {
        "keys": list(dict.fromkeys(entity_keys)),
        "collection_ids": [int(c) for c in scope.collection_ids],
        "acl": [str(entry) for entry in scope.acl],
    }


def neighbourhood_queries(acl: AclPredicate, hops: int) -> list[str]:
    """One query per hop distance 0..hops. Each returns (chunk_id, document_id, keys[, weights])
    per path, with every chunk on the path's ends filtered by scope inside the query, and every
    RELATED step taken only if a readable chunk supports it."""
    if not 0 <= hops <= MAX_HOPS:
        raise ValueError(f"hops must be between 0 and {MAX_HOPS}, got {hops}")
    return [_hop0(acl), _hop1(acl), _hop2(acl)][: hops + 1]


def path_row(record: Sequence[Any]) -> PathRow:
    weights = tuple(float(w) for w in record[3]) if len(record) > 3 else ()
    return PathRow(
        chunk_id=str(record[0]),
        document_id=int(record[1]),
        keys=tuple(str(key) for key in record[2]),
        weights=weights,
    )


def _readable(chunk: str, acl: AclPredicate) -> str:
    return f"{chunk}.collection_id IN $collection_ids AND {acl(chunk)}"


def _supported(rel: str, end: str, support: str, acl: AclPredicate) -> str:
    return (
        f"EXISTS {{ MATCH ({support}:Chunk)-[:MENTIONS]->({end}) "
        f"WHERE {support}.id IN {rel}.chunk_ids AND {_readable(support, acl)} }}"
    )


def _hop0(acl: AclPredicate) -> str:
    return f"""
UNWIND $keys AS seed_key
MATCH (s:Entity {{key: seed_key}})<-[:MENTIONS]-(c:Chunk)
WHERE {_readable("c", acl)}
RETURN c.id, c.document_id, [s.key]
"""


def _hop1(acl: AclPredicate) -> str:
    return f"""
UNWIND $keys AS seed_key
MATCH (s:Entity {{key: seed_key}})-[r1:RELATED]-(n:Entity)<-[:MENTIONS]-(c:Chunk)
WHERE {_readable("c", acl)} AND {_supported("r1", "s", "sc1", acl)}
RETURN c.id, c.document_id, [s.key, n.key], [r1.weight]
"""


def _hop2(acl: AclPredicate) -> str:
    return f"""
UNWIND $keys AS seed_key
MATCH (s:Entity {{key: seed_key}})-[r1:RELATED]-(m:Entity)-[r2:RELATED]-(n:Entity),
      (n)<-[:MENTIONS]-(c:Chunk)
WHERE n <> s AND {_readable("c", acl)}
  AND {_supported("r1", "s", "sc1", acl)} AND {_supported("r2", "m", "sc2", acl)}
RETURN c.id, c.document_id, [s.key, m.key, n.key], [r1.weight, r2.weight]
"""
