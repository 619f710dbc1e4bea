"""Near-duplicate passages (two contract templates, a policy and its revision, the same clause
in two handbooks) score alike on the text they share, and fusion would order them by chunk id.
What decides between them is the text that differs: within a group of near-duplicates, the
passage whose own sentences hold more of the question's terms comes first."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from kb.text.sparse import tokenize
from retrieval.types import Fused

# Two passages of different documents are near-duplicates when this share of the shorter
# one's sentences is also in the other.
SHARED_SENTENCES = 0.6
# Only the head of the ranking is compared: what reaches the prompt and a little more.
HEAD = 20
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")


def prefer_matching_differences(question: str, fused: Sequence[Fused]) -> list[Fused]:
    """The same candidates and scores; inside each group of near-duplicates, the places are
    given out again by how many question terms each member's own sentences hold (ties keep
    the fused order)."""
    ranked = list(fused)
    sentences = {i: _sentences(c) for i, c in enumerate(ranked[:HEAD]) if c.payload is not None}
    wanted = set(tokenize(question))
    if not wanted:
        return ranked
    for group in _groups(ranked, sentences):
        common = set.intersection(*(sentences[i] for i in group))
        matches = {i: len(wanted & _terms(sentences[i] - common)) for i in group}
        order = sorted(group, key=lambda i: (-matches[i], i))
        moved = [ranked[i] for i in order]
        for place, candidate in zip(group, moved, strict=True):
            ranked[place] = replace(candidate, score=fused[place].score)
    return ranked


def _groups(ranked: Sequence[Fused], sentences: dict[int, set[str]]) -> list[list[int]]:
    """Positions of near-duplicates, linked pairwise (a and b alike, b and c alike: one group),
    each group in rank order."""
    parent = {i: i for i in sentences}

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    positions = sorted(sentences)
    for a_index, a in enumerate(positions):
        for b in positions[a_index + 1 :]:
            if ranked[a].document_id != ranked[b].document_id and _alike(
                sentences[a], sentences[b]
            ):
                parent[root(b)] = root(a)
    groups: dict[int, list[int]] = {}
    for i in positions:
        groups.setdefault(root(i), []).append(i)
    return [group for group in groups.values() if len(group) > 1]


def _alike(a: set[str], b: set[str]) -> bool:
    shorter = min(len(a), len(b))
    return shorter > 1 and len(a & b) >= SHARED_SENTENCES * shorter


def _sentences(candidate: Fused) -> set[str]:
    text = candidate.payload.text if candidate.payload is not None else ""
    return {" ".join(s.lower().split()) for s in _SENTENCE_END.split(text) if s.strip()}


def _terms(sentences: set[str]) -> set[str]:
    return {term for sentence in sentences for term in tokenize(sentence)}
