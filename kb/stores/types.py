"""Value types shared by every store adapter.

Adapters speak only these types, so ingestion and retrieval never see a store's own classes.
ACL entries are opaque strings produced by `kb.access` (for example ``group:7`` or
``authenticated``); stores index and match them as keywords and never interpret them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AccessScope:
    """What a caller may read: a chunk matches when its collection is listed AND it shares
    at least one ACL entry with the caller. An empty scope matches nothing."""

    collection_ids: Sequence[int]
    acl: Sequence[str]

    @property
    def is_empty(self) -> bool:
        return not self.collection_ids or not self.acl


@dataclass(frozen=True)
class SparseVector:
    indices: Sequence[int]
    values: Sequence[float]


@dataclass(frozen=True)
class ChunkPoint:
    """One chunk as stored in the vector index. `id` is a UUID string (`payload.chunk_id`);
    `payload` is a `ChunkPayload.to_dict()`: the stores filter on its collection_id and acl."""

    id: str
    dense: Sequence[float]
    sparse: SparseVector
    payload: dict[str, Any]


@dataclass(frozen=True)
class VectorHit:
    id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class GraphEntity:
    key: str  # normalised, e.g. "postgresql"
    name: str  # as first seen, e.g. "PostgreSQL"
    type: str = "concept"


@dataclass(frozen=True)
class GraphRelation:
    source_key: str
    target_key: str
    weight: float = 1.0


@dataclass(frozen=True)
class GraphChunk:
    """A chunk node with the entities it mentions and the relations it supports."""

    id: str
    document_id: int
    collection_id: int
    acl: Sequence[str]
    entities: Sequence[GraphEntity] = field(default_factory=tuple)
    relations: Sequence[GraphRelation] = field(default_factory=tuple)


@dataclass(frozen=True)
class GraphHit:
    chunk_id: str
    document_id: int
    score: float
    entity_keys: Sequence[str] = field(default_factory=tuple)
