"""Reads of cited passages: a chunk in its context (the source view a citation opens).

Passages come from the vector index under the caller's access scope and pass the database
post-check, like every retrieved chunk: what the caller may not read looks missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kb.access import AnyUser, access_scope
from kb.models import Document
from kb.selectors.documents import document_get_readable
from kb.stores.factory import vector_index
from kb.stores.payload import ChunkPayload
from kb.stores.payload import chunk_id as make_chunk_id

# Chunks shown on each side of a cited one.
CONTEXT_CHUNKS = 1
# Chunks overlap (DESIGN: 50 tokens); a shorter common run is a coincidence, not the overlap.
MIN_OVERLAP_CHARS = 20


@dataclass(frozen=True)
class SourceChunk:
    chunk_id: str
    number: int
    text: str
    cited: bool


@dataclass(frozen=True)
class SourcePassage:
    """A cited chunk with its neighbours in the same document version."""

    document: Document
    chunk_id: str
    page: int | None
    page_label: str  # the number printed on the page, where it differs from `page`
    section: str
    version: int
    chunks: list[SourceChunk]

    @property
    def cited(self) -> SourceChunk:
        return next(chunk for chunk in self.chunks if chunk.cited)

    @property
    def outdated(self) -> bool:
        return self.version != self.document.indexed_version


def source_passage_for_user(*, user: AnyUser, chunk_id: str) -> SourcePassage | None:
    """None when the chunk does not exist or the user may not read it (the caller's 404).

    The index filters by the caller's scope; the document is then checked against the
    database, so a chunk with a stale ACL stamp is never shown."""
    scope = access_scope(user)
    index = vector_index()
    hits = index.fetch(ids=[chunk_id], scope=scope)
    if not hits:
        return None
    payload = ChunkPayload.from_dict(hits[0].payload)
    document = document_get_readable(user=user, document_id=payload.document_id)
    if document is None:
        return None
    version, number = payload.document_version, payload.chunk_number
    around = [
        make_chunk_id(document.pk, version, n)
        for n in range(max(number - CONTEXT_CHUNKS, 0), number + CONTEXT_CHUNKS + 1)
        if n != number
    ]
    fetched = [ChunkPayload.from_dict(hit.payload) for hit in index.fetch(ids=around, scope=scope)]
    neighbours = [p for p in fetched if p.document_id == document.pk]
    return SourcePassage(
        document=document,
        chunk_id=chunk_id,
        page=payload.page,
        page_label=payload.page_label,
        section=payload.section,
        version=version,
        chunks=_without_overlap([*neighbours, payload], cited=chunk_id),
    )


def _without_overlap(payloads: Sequence[ChunkPayload], *, cited: str) -> list[SourceChunk]:
    """The chunks in order, each neighbour cut where it repeats the chunk next to it (chunks
    overlap), so the surrounding text reads once; the cited chunk stays whole."""
    ordered = sorted(payloads, key=lambda p: p.chunk_number)
    chunks = [SourceChunk(p.chunk_id, p.chunk_number, p.text, p.chunk_id == cited) for p in ordered]
    position = next(i for i, chunk in enumerate(chunks) if chunk.cited)
    out = list(chunks)
    if position > 0:
        before = chunks[position - 1]
        text = _strip_suffix_overlap(before.text, chunks[position].text)
        out[position - 1] = SourceChunk(before.chunk_id, before.number, text, False)
    if position + 1 < len(chunks):
        after = chunks[position + 1]
        text = _strip_prefix_overlap(chunks[position].text, after.text)
        out[position + 1] = SourceChunk(after.chunk_id, after.number, text, False)
    return [
        SourceChunk(c.chunk_id, c.number, c.text.strip(), c.cited)
        for c in out
        if c.cited or c.text.strip()
    ]


def _strip_suffix_overlap(before: str, cited: str) -> str:
    """`before` without its tail when that tail is where `cited` begins."""
    size = _overlap(before, cited)
    return before[: len(before) - size] if size else before


def _strip_prefix_overlap(cited: str, after: str) -> str:
    """`after` without its head when that head is where `cited` ends."""
    size = _overlap(cited, after)
    return after[size:] if size else after


def _overlap(first: str, second: str) -> int:
    """Length of the longest end of `first` that begins `second` (at least MIN_OVERLAP_CHARS)."""
    for size in range(min(len(first), len(second)), MIN_OVERLAP_CHARS - 1, -1):
        if first.endswith(second[:size]):
            return size
    return 0
