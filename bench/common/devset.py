"""The hand-written dev set (bench/devset/): questions with their gold file and section (or,
for the PDF manuals, gold pages: one entry per acceptable page),
questions that neither corpus answers, and near misses: on the topic of pages in the corpus
(`near`), with the answer in none of them (`absent`: terms that occur in no page)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEVSET = Path(__file__).resolve().parents[1] / "devset"
ANSWERABLE = DEVSET / "retrieval.jsonl"
UNANSWERABLE = DEVSET / "unanswerable.jsonl"
NEAR_MISS = DEVSET / "near_miss.jsonl"
PDF = DEVSET / "pdf.jsonl"


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


def load_questions(path: Path) -> list[Question]:
    """The questions of one file in file order; none when the file is missing."""
    if not path.is_file():
        return []
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            questions.append(
                Question(
                    row["id"],
                    row["lang"],
                    row["question"],
                    gold=tuple(Gold(**entry) for entry in row.get("gold", ())),
                    near=tuple(Gold(**entry) for entry in row.get("near", ())),
                    absent=tuple(row.get("absent", ())),
                    split=row.get("split", "dev"),
                )
            )
    return questions
