"""What the retrieval steps pass along: ranked chunk candidates per path, then fused."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Candidate:
    """A chunk one path found, with that path's score (not comparable across paths)."""

    chunk_id: str
    document_id: int
    score: float
    payload: dict[str, Any] = field(default_factory=dict)  # empty for graph hits


@dataclass(frozen=True)
class Fused:
    """A chunk after fusion: its RRF score and its rank (1-based) on each path that found it."""

    chunk_id: str
    document_id: int
    score: float
    ranks: dict[str, int]
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Passage:
    """A chunk that may reach the prompt, numbered as the model and the citations see it."""

    n: int
    chunk_id: str
    document_id: int
    title: str
    page: int | None
    section: str
    text: str
    score: float
    paths: tuple[str, ...]
