"""The hand-written dev set (bench/devset/): questions with their gold file and section (or,
for the PDF manuals, gold pages: one entry per acceptable page), cross-lingual questions (in
another language than their gold pages: `direction`), questions that neither corpus answers,
and near misses: on the topic of pages in the corpus (`near`), with the answer in none of them
(`absent`: terms that occur in no page)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEVSET = Path(__file__).resolve().parents[1] / "devset"
ANSWERABLE = DEVSET / "retrieval.jsonl"
UNANSWERABLE = DEVSET / "unanswerable.jsonl"
NEAR_MISS = DEVSET / "near_miss.jsonl"
PDF = DEVSET / "pdf.jsonl"
CROSSLINGUAL = DEVSET / "crosslingual.jsonl"
HANDBOOK = "debian-handbook/"
CROSS_LINGUAL = "cross-lingual"
SAME_LANGUAGE = "same-language"


def source_language(source: str) -> str:
    """The language of a source's pages: a handbook edition's (zh-CN -> zh), else English (the
    PostgreSQL docs and the PDF manuals exist in English only)."""
    if source.startswith(HANDBOOK):
        return source.removeprefix(HANDBOOK).split("-", 1)[0].lower()
    return "en"


@dataclass(frozen=True)
class Gold:
    source: str
    file: str
    section: str = ""  # HTML manuals: the gold heading
    page: int | None = None  # PDF manuals: a physical, 1-based page holding the answer

    @property
    def document(self) -> str:
        """The name `bench ingest` uploads the file under: source/file."""
        return f"{self.source}/{self.file}"


@dataclass(frozen=True)
class Question:
    id: str
    lang: str
    text: str
    gold: tuple[Gold, ...] = ()
    near: tuple[Gold, ...] = ()  # near misses: on-topic pages that do not hold the answer
    absent: tuple[str, ...] = ()  # near misses: terms the answer needs and no page contains
    split: str = "dev"  # "dev" or "held-out"

    @property
    def group(self) -> str:
        return self.id.split("-", 1)[0]

    @property
    def direction(self) -> str:
        """Question language -> language of the gold pages ("zh->en"; "en->en+zh" when gold
        pages are in several); "" for a question without gold."""
        languages = sorted({source_language(entry.source) for entry in self.gold})
        return f"{self.lang}->{'+'.join(languages)}" if languages else ""

    @property
    def crossing(self) -> str:
        """Same-language when a gold page is in the question's language, else cross-lingual."""
        languages = {source_language(entry.source) for entry in self.gold}
        return SAME_LANGUAGE if not languages or self.lang in languages else CROSS_LINGUAL


def load_questions(path: Path) -> list[Question]:
    """The questions of one file in file order; none when the file is missing."""
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [_question(json.loads(line), path.name) for line in lines if line.strip()]


def _question(row: dict[str, Any], file_name: str) -> Question:
    """One row; its `direction`, where given, must be the one its language and gold make."""
    question = Question(
        row["id"],
        row["lang"],
        row["question"],
        gold=tuple(Gold(**entry) for entry in row.get("gold", ())),
        near=tuple(Gold(**entry) for entry in row.get("near", ())),
        absent=tuple(row.get("absent", ())),
        split=row.get("split", "dev"),
    )
    declared = row.get("direction", question.direction)
    if declared != question.direction:
        raise ValueError(
            f"{file_name} {question.id}: direction {declared!r}, but its language and gold "
            f"pages make {question.direction!r}"
        )
    return question
