"""The quality corpus: every gold page plus a fixed selection of distractors, and the chunk
table the index received (what each ranked chunk id is)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.common.corpus import SOURCES, InputFile, select_files
from bench.common.devset import Question

Json = dict[str, Any]


@dataclass(frozen=True)
class Chunk:
    document: str
    section: str
    text: str
    page: int | None = None  # physical 1-based page of a PDF chunk (its payload's `page`)


@dataclass
class Corpus:
    chunks: dict[str, Chunk] = field(default_factory=dict)
    ingest: Json = field(default_factory=dict)

    def documents(self, chunk_ids: Iterable[str]) -> list[str]:
        return [self.chunks[cid].document for cid in chunk_ids if cid in self.chunks]


def corpus_files(questions: Sequence[Question], distractors: int | None) -> list[InputFile]:
    """Every gold file and every near-miss question's on-topic file, then the deterministic
    selection of `bench ingest` (`None`: all)."""
    folders = dict(SOURCES)
    gold = [
        InputFile(entry.source, folders[entry.source] / entry.file)
        for question in questions
        for entry in (*question.gold, *question.near)
    ]
    return list(dict.fromkeys([*gold, *select_files(distractors)]))


def selected(questions: list[Question], prefixes: str) -> list[Question]:
    """The questions whose id starts with one of the comma-separated prefixes (all if none)."""
    wanted = tuple(p.strip() for p in prefixes.split(",") if p.strip())
    return [q for q in questions if not wanted or q.id.startswith(wanted)]
