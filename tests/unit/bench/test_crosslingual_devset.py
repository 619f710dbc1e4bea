"""bench/devset/crosslingual.jsonl: its shape (directions, sizes, editions), and, when the
manuals are installed, that every gold page exists with its gold heading."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.common.corpus import SOURCES
from bench.common.devset import CROSS_LINGUAL, CROSSLINGUAL, load_questions
from bench.common.near_miss_check import headings, normalise
from bench.quality.corpus import CROSSLINGUAL_SOURCES

pytestmark = pytest.mark.unit

QUESTIONS = load_questions(CROSSLINGUAL)
needs_corpus = pytest.mark.skipif(
    not all(folder.is_dir() for folder in SOURCES.values()),
    reason="corpus not installed (`make bench` installs debian-handbook and postgresql-doc-15)",
)
MINIMUM = {"zh->en": 12, "ru->en": 12, "en->zh": 10, "en->ru": 10}


def test_every_direction_has_its_questions_and_ids_are_unique():
    counts = Counter(q.direction for q in QUESTIONS)
    assert set(counts) == set(MINIMUM)
    assert all(counts[direction] >= n for direction, n in MINIMUM.items())
    assert len({q.id for q in QUESTIONS}) == len(QUESTIONS)
    assert all(q.id.startswith("xl-") for q in QUESTIONS)


def test_every_question_is_cross_lingual_with_gold_in_the_sources_of_its_corpus():
    assert {q.crossing for q in QUESTIONS} == {CROSS_LINGUAL}
    assert {e.source for q in QUESTIONS for e in q.gold} <= set(CROSSLINGUAL_SOURCES)


def test_no_handbook_page_is_gold_in_two_editions():
    """Else one edition would compete with the other as a wrong document."""
    editions = {(e.file, e.source) for q in QUESTIONS for e in q.gold if "handbook" in e.source}
    files = Counter(file for file, _ in editions)
    assert [file for file, n in files.items() if n > 1] == []


@needs_corpus
@pytest.mark.parametrize("question", QUESTIONS, ids=[q.id for q in QUESTIONS])
def test_gold_pages_exist_with_their_heading(question):
    for entry in question.gold:
        path = SOURCES[entry.source] / entry.file
        assert path.is_file()
        assert normalise(entry.section) in headings(path)
