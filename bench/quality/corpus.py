"""The quality corpus: every gold page plus a fixed selection of distractors (for the
cross-lingual set: no English handbook, one edition of each gold page), and the chunk table the
index received (what each ranked chunk id is)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.common.corpus import SOURCES, InputFile, select_files
from bench.common.devset import Question

Json = dict[str, Any]
_EDITION = re.compile(r"^debian-handbook/[^/]+/")
# The cross-lingual set's sources: every one but the English handbook, so that an English
# question about a zh-CN or ru-RU page cannot find the page's English edition instead.
CROSSLINGUAL_SOURCES = ("postgresql-doc-15", "debian-handbook/zh-CN", "debian-handbook/ru-RU")


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


def any_edition(document: str) -> str:
    """The handbook's editions share file names: en-US, zh-CN and ru-RU pages become one."""
    return _EDITION.sub("debian-handbook/*/", document)


def gold_files(questions: Sequence[Question]) -> list[InputFile]:
    """Every gold file and every near-miss question's on-topic file, in question order."""
    folders = dict(SOURCES)
    return [
        InputFile(entry.source, folders[entry.source] / entry.file)
        for question in questions
        for entry in (*question.gold, *question.near)
    ]


def corpus_files(
    questions: Sequence[Question], distractors: int | None, sources: Sequence[str] = tuple(SOURCES)
) -> list[InputFile]:
    """Every gold file and every near-miss question's on-topic file, then the deterministic
    selection of `bench ingest` (`None`: all) from `sources` (default: all)."""
    folders = {source: SOURCES[source] for source in sources}
    return list(dict.fromkeys([*gold_files(questions), *select_files(distractors, folders)]))


def crosslingual_files(questions: Sequence[Question], distractors: int | None) -> list[InputFile]:
    """The corpus of the cross-lingual set: gold files and distractors from
    CROSSLINGUAL_SOURCES, each gold handbook page in its gold edition only."""
    files = corpus_files(questions, distractors, CROSSLINGUAL_SOURCES)
    return one_edition_of_gold(files, {item.name for item in gold_files(questions)})


def one_edition_of_gold(files: Sequence[InputFile], gold: set[str]) -> list[InputFile]:
    """`files` without the other editions of a gold handbook page (a distractor selection takes
    the same file names in every edition): the page's answer is then in one language only."""
    gold_pages = {any_edition(name) for name in gold}
    return [f for f in files if f.name in gold or any_edition(f.name) not in gold_pages]


def selected(questions: list[Question], prefixes: str) -> list[Question]:
    """The questions whose id starts with one of the comma-separated prefixes (all if none)."""
    wanted = tuple(p.strip() for p in prefixes.split(",") if p.strip())
    return [q for q in questions if not wanted or q.id.startswith(wanted)]
