"""Checks bench/devset/near_miss.jsonl against the installed manuals: each `near` page exists and
has the named heading, and no `absent` term occurs in any page of any source.

`python -m bench.common.near_miss_check` prints each question's problems and exits 1 if any.
"""

from __future__ import annotations

import html
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from bench.common.corpus import SOURCES, require_sources
from bench.common.devset import NEAR_MISS, Question, load_questions

LANGUAGES = {
    "en": {"debian-handbook/en-US", "postgresql-doc-15"},
    "zh": {"debian-handbook/zh-CN"},
    "ru": {"debian-handbook/ru-RU"},
}
SPLITS = frozenset({"dev", "held-out"})
_TAG = re.compile(r"<[^>]*>")
_HEADING = re.compile(r"<h[1-6][^>]*>(.*?)</h[1-6]>", re.DOTALL | re.IGNORECASE)
_HIDDEN = re.compile(r"<(script|style)\b.*?</\1>", re.DOTALL | re.IGNORECASE)
_texts: dict[Path, str] = {}


def normalise(text: str) -> str:
    """NFKC, case-folded, whitespace runs as one space: how terms and pages are compared."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def page_text(path: Path) -> str:
    """The page's text, read once: tags dropped both ways, so that a term split by inline
    markup (`pg<b>_</b>dump`) and one running across two blocks both still match."""
    if path not in _texts:
        raw = _HIDDEN.sub(" ", path.read_text(encoding="utf-8", errors="replace"))
        joined = html.unescape(_TAG.sub("", raw))
        spaced = html.unescape(_TAG.sub(" ", raw))
        _texts[path] = normalise(joined) + "\n" + normalise(spaced)
    return _texts[path]


def headings(path: Path) -> set[str]:
    """The normalised text of every h1-h6 of the page."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    return {normalise(html.unescape(_TAG.sub("", h))) for h in _HEADING.findall(raw)}


def _in_word(char: str) -> bool:
    """A letter, digit or _ of a script that separates words (CJK text has no word breaks)."""
    return (char.isalnum() or char == "_") and unicodedata.east_asian_width(char) not in "WF"


def occurs(term: str, text: str) -> bool:
    """`term` (normalised) occurs in `text` (normalised) at the start of a word, any ending
    allowed: "visio" is not in "revision", "битрикс" is in "битрикса", CJK matches anywhere."""
    start = text.find(term)
    if not term or not _in_word(term[0]):
        return start != -1
    while start != -1:
        if start == 0 or not _in_word(text[start - 1]):
            return True
        start = text.find(term, start + 1)
    return False


def absent_terms_found(question: Question, sources: Mapping[str, Path] = SOURCES) -> list[str]:
    """The question's `absent` terms that do occur, case-insensitively, in some *.html page of
    some source (see `occurs`): each one means the corpus may hold the answer after all."""
    terms = {term: normalise(term) for term in question.absent}
    found: dict[str, None] = {}
    for folder in sources.values():
        for path in sorted(folder.glob("*.html")):
            text = page_text(path)
            found.update((term, None) for term, key in terms.items() if occurs(key, text))
            if len(found) == len(terms):
                return list(found)
    return [term for term in question.absent if term in found]


def near_problems(question: Question, sources: Mapping[str, Path] = SOURCES) -> list[str]:
    """Each `near` page that is missing, in another language, or without the named heading."""
    problems = []
    for entry in question.near:
        folder = sources.get(entry.source)
        if folder is None:
            problems.append(f"unknown source {entry.source!r}")
            continue
        if entry.source not in LANGUAGES.get(question.lang, set()):
            problems.append(f"{entry.document}: not a {question.lang!r} source")
        path = folder / entry.file
        if not path.is_file():
            problems.append(f"{entry.document}: no such file")
        elif normalise(entry.section) not in headings(path):
            problems.append(f"{entry.document}: no heading {entry.section!r}")
    return problems


def row_problems(question: Question) -> list[str]:
    """What the row itself gets wrong, without reading the corpus."""
    problems = []
    if question.lang not in LANGUAGES:
        problems.append(f"language {question.lang!r}")
    if question.split not in SPLITS:
        problems.append(f"split {question.split!r}")
    if question.gold:
        problems.append("a near miss has no gold")
    if not 1 <= len(question.near) <= 2:
        problems.append(f"{len(question.near)} near pages, not 1-2")
    if not 1 <= len(question.absent) <= 3:
        problems.append(f"{len(question.absent)} absent terms, not 1-3")
    if any(not normalise(term) for term in question.absent):
        problems.append("an empty absent term")
    return problems


def problems(question: Question, sources: Mapping[str, Path] = SOURCES) -> list[str]:
    found = [f"absent term occurs: {term!r}" for term in absent_terms_found(question, sources)]
    return [*row_problems(question), *near_problems(question, sources), *found]


def main(path: Path = NEAR_MISS) -> int:
    """Prints each question's problems; 1 if any question has one."""
    require_sources()
    questions = load_questions(path)
    if not questions:
        print(f"{path}: no questions")
        return 1
    failed = 0
    ids = Counter(q.id for q in questions)
    for question in questions:
        listed = problems(question)
        if ids[question.id] > 1:
            listed.append("duplicate id")
        if listed:
            failed += 1
            print(f"{question.id}: " + "; ".join(listed))
    print(f"{len(questions)} questions, {failed} with problems ({len(_texts)} pages read)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
