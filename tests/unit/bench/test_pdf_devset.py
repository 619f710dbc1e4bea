"""bench/devset/pdf.jsonl: its shape (languages, splits, gold in the PDF manuals), and, when the
manuals are installed, that every gold page exists in its file."""

from __future__ import annotations

import gzip
from collections import Counter
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader

from bench.common.corpus import PDF_SOURCES
from bench.common.devset import PDF, load_questions

pytestmark = pytest.mark.unit

QUESTIONS = load_questions(PDF)
needs_manuals = pytest.mark.skipif(
    not all(path.is_file() for path in PDF_SOURCES.values()),
    reason="PDF manuals not installed (gnuplot-doc, asymptote-doc, glpk-doc, dblatex-doc)",
)


def test_ids_are_unique_and_every_question_has_gold_pages_in_the_manuals():
    assert len({q.id for q in QUESTIONS}) == len(QUESTIONS)
    for question in QUESTIONS:
        assert question.gold, question.id
        for entry in question.gold:
            assert entry.source in PDF_SOURCES and entry.page and entry.page >= 1, question.id


def test_chinese_and_russian_questions_about_the_english_manuals_include_held_out_ones():
    """The later zh and ru questions were written after every choice their figures could
    sway: they are scored apart (`direction_split`)."""
    counts = Counter((q.direction, q.split) for q in QUESTIONS)
    assert counts[("zh->en", "held-out")] >= 16 and counts[("ru->en", "held-out")] >= 16
    assert {q.split for q in QUESTIONS} == {"dev", "held-out"}
    assert all(q.lang in ("zh", "ru") for q in QUESTIONS if q.split == "held-out")


@needs_manuals
def test_every_gold_page_is_in_its_manual():
    pages = {
        source: len(PdfReader(BytesIO(_read(path))).pages) for source, path in PDF_SOURCES.items()
    }
    for question in QUESTIONS:
        for entry in question.gold:
            assert entry.page is not None and entry.page <= pages[entry.source], question.id


def _read(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
