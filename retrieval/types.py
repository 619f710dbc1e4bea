"""What the retrieval steps pass along: ranked chunk candidates per path, then fused."""

from __future__ import annotations

from dataclasses import dataclass

from kb.stores.payload import ChunkPayload


@dataclass(frozen=True)
class Candidate:
    """A chunk one path found, with that path's score (not comparable across paths)."""

    chunk_id: str
    document_id: int
    score: float
    payload: ChunkPayload | None = None  # None for graph hits


@dataclass(frozen=True)
class Fused:
    """A chunk after fusion: its RRF score and its rank (1-based) on each path that found it."""

    chunk_id: str
    document_id: int
    score: float
    ranks: dict[str, int]
    payload: ChunkPayload | None = None


@dataclass(frozen=True)
class Passage:
    """A chunk that may reach the prompt, numbered as the model and the citations see it.
    `page` is the physical page; `page_label` the number printed on it where that differs
    (kb.stores.payload), else ""."""

    n: int
    chunk_id: str
    document_id: int
    title: str
    page: int | None
    section: str
    text: str
    score: float
    paths: tuple[str, ...]
    page_label: str = ""
