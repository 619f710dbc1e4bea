"""The hand-written dev set (bench/devset/): questions with their gold file and section, and
questions that neither corpus answers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEVSET = Path(__file__).resolve().parents[1] / "devset"
ANSWERABLE = DEVSET / "retrieval.jsonl"
UNANSWERABLE = DEVSET / "unanswerable.jsonl"


@dataclass(frozen=True)
class Gold:
    source: str
    file: str
    section: str

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
            gold = tuple(Gold(**entry) for entry in row.get("gold", ()))
            questions.append(Question(row["id"], row["lang"], row["question"], gold))
    return questions
