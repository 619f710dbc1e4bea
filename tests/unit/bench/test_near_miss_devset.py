"""bench/devset/near_miss.jsonl: its shape, and, when the manuals are installed, that every near
page exists with its heading and that no absent term occurs anywhere in the corpus; the check
itself against pages made here."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.common.corpus import SOURCES
from bench.common.devset import NEAR_MISS, Gold, Question, load_questions
from bench.common.near_miss_check import (
    SPLITS,
    absent_terms_found,
    near_problems,
    normalise,
    occurs,
    row_problems,
)

pytestmark = pytest.mark.unit

QUESTIONS = load_questions(NEAR_MISS)
needs_corpus = pytest.mark.skipif(
    not all(folder.is_dir() for folder in SOURCES.values()),
    reason="corpus not installed (`make bench` installs debian-handbook and postgresql-doc-15)",
)
slow = pytest.mark.slow  # the first test to read the 1,550 pages takes a few seconds
by_id = pytest.mark.parametrize("question", QUESTIONS, ids=[q.id for q in QUESTIONS])


def test_size_and_unique_ids():
    assert len(QUESTIONS) >= 60
    ids = [q.id for q in QUESTIONS]
    assert len(set(ids)) == len(ids)


def test_each_language_has_ten_or_more():
    counts = Counter(q.lang for q in QUESTIONS)
    assert set(counts) == {"en", "zh", "ru"}
    assert min(counts.values()) >= 10


def test_both_splits_in_every_language():
    assert {q.split for q in QUESTIONS} == SPLITS
    for lang in ("en", "zh", "ru"):
        assert {q.split for q in QUESTIONS if q.lang == lang} == SPLITS
    held_out = sum(q.split == "held-out" for q in QUESTIONS)
    assert 0.25 <= held_out / len(QUESTIONS) <= 0.4


@by_id
def test_row_is_well_formed(question):
    assert row_problems(question) == []


@needs_corpus
@slow
@by_id
def test_near_pages_exist_with_their_heading(question):
    assert near_problems(question) == []


@needs_corpus
@slow
@by_id
def test_no_absent_term_occurs_in_the_corpus(question):
    assert absent_terms_found(question) == []


@needs_corpus
@slow
def test_a_term_the_corpus_has_is_found():
    question = Question("x", "en", "q", absent=("VACUUM FULL", "Slackware", "no-such-term-xyz"))
    assert absent_terms_found(question) == ["VACUUM FULL", "Slackware"]


@pytest.mark.parametrize(
    ("term", "text", "expected"),
    [
        pytest.param("visio", "a global vision of all processes", True, id="prefix-of-a-word"),
        pytest.param("visio", "see the revision history", False, id="inside-a-word"),
        pytest.param("битрикс", "данные из битрикса", True, id="inflected-russian"),
        pytest.param("钉钉", "发消息到钉钉群", True, id="cjk-anywhere"),
        pytest.param("telegram", "用telegram通知", True, id="latin-after-cjk"),
        pytest.param("pg_cron", "not_pg_cron", False, id="underscore-is-a-word-char"),
    ],
)
def test_occurs(term, text, expected):
    assert occurs(normalise(term), normalise(text)) is expected


def test_terms_are_found_through_markup_case_and_width(tmp_path: Path):
    (tmp_path / "page.html").write_text(
        "<h2>1.1. Cron</h2><p>Post to <b>Sla</b>ck</p><p>ＰＡＧＥＲＤＵＴＹ&amp;co</p>",
        encoding="utf-8",
    )
    question = Question("x", "en", "q", absent=("Slack", "pagerduty&co", "Opsgenie"))
    assert absent_terms_found(question, {"s": tmp_path}) == ["Slack", "pagerduty&co"]


def test_near_problems_name_missing_files_headings_and_languages(tmp_path: Path):
    (tmp_path / "page.html").write_text("<h2>1.1. <code>cron</code> Jobs</h2>", encoding="utf-8")
    sources = {"debian-handbook/en-US": tmp_path}
    question = Question(
        "x",
        "zh",
        "q",
        near=(
            Gold("debian-handbook/en-US", "page.html", "1.1. cron  jobs"),
            Gold("debian-handbook/en-US", "gone.html", "1.1. Cron Jobs"),
            Gold("debian-handbook/en-US", "page.html", "1.2. Other"),
            Gold("nowhere", "page.html", "1.1. Cron Jobs"),
        ),
    )
    assert near_problems(question, sources) == [
        "debian-handbook/en-US/page.html: not a 'zh' source",
        "debian-handbook/en-US/gone.html: not a 'zh' source",
        "debian-handbook/en-US/gone.html: no such file",
        "debian-handbook/en-US/page.html: not a 'zh' source",
        "debian-handbook/en-US/page.html: no heading '1.2. Other'",
        "unknown source 'nowhere'",
    ]


def test_loader_keeps_the_other_files_as_they_were():
    question = Question("hb-01", "en", "q")
    assert (question.near, question.absent, question.split) == ((), (), "dev")
