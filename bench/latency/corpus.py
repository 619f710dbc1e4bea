"""The latency corpus: the manuals' pages cut by our chunker, recombined texts beyond them, and
the queries (dev-set questions, then sentences sampled from the corpus)."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common.corpus import SOURCES, require_sources
from bench.common.devset import ANSWERABLE, CROSSLINGUAL, UNANSWERABLE, load_questions

if TYPE_CHECKING:
    from ingestion.types import ParsedElement

SEED = 20240611
# Block elements read from the HTML; a block that holds other blocks is left to them.
BLOCKS = (
    "self::h1 or self::h2 or self::h3 or self::h4 or self::p or self::pre or self::li or "
    "self::dt or self::dd or self::td or self::th or (self::div and @class='para')"
)
NAVIGATION = (
    "//script|//style|//ul[@class='docnav']|//div[@class='navheader']|"
    "//div[@class='navfooter']|//div[@class='toc']"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")
Json = dict[str, Any]


@dataclass(frozen=True)
class SourceChunk:
    text: str
    section: str


@dataclass(frozen=True)
class SourceDocument:
    source: str
    title: str
    chunks: tuple[SourceChunk, ...]


def load_corpus() -> list[SourceDocument]:
    require_sources()
    from ingestion.chunk import chunk_elements

    documents = []
    for source, folder in SOURCES.items():
        for path in sorted(folder.glob("*.html")):
            title, elements = html_elements(path)
            chunks = tuple(SourceChunk(c.text, c.section) for c in chunk_elements(elements))
            if chunks:
                documents.append(SourceDocument(source, title, chunks))
    return documents


def html_elements(path: Path) -> tuple[str, list[ParsedElement]]:
    """Headings, paragraphs, list items, table cells and code blocks in reading order, without
    the navigation; each element's section is the heading above it. A fast reader of these
    manuals' markup, not the upload parser: 1,550 pages are read on every run, and what is
    measured starts at the chunks."""
    import lxml.html

    from ingestion.types import ElementKind, ParsedElement

    root = lxml.html.parse(str(path)).getroot()
    for noise in root.xpath(NAVIGATION):
        noise.drop_tree()
    title = " ".join((root.findtext(".//title") or path.stem).split())
    section = title
    elements = []
    for block in root.xpath(f"//body//*[{BLOCKS}]"):
        if block.xpath(f".//*[{BLOCKS}]"):
            continue
        if block.tag == "pre":
            kind, text = ElementKind.CODE, block.text_content().strip("\n")
        else:
            heading = block.tag in ("h1", "h2", "h3", "h4")
            kind = ElementKind.TITLE if heading else ElementKind.TEXT
            text = " ".join(block.text_content().split())
        if not text.strip():
            continue
        if kind is ElementKind.TITLE:
            section = text
        elements.append(ParsedElement(kind=kind, text=text, section=section))
    return title, elements


def corpus_summary(documents: Sequence[SourceDocument]) -> Json:
    from ingestion.chunk import count_tokens

    sources: dict[str, Json] = {}
    for document in documents:
        entry = sources.setdefault(document.source, {"documents": 0, "chunks": 0})
        entry["documents"] += 1
        entry["chunks"] += len(document.chunks)
    tokens = [count_tokens(c.text) for d in documents for c in d.chunks]
    return {
        "real_documents": len(documents),
        "real_chunks": len(tokens),
        "chunk_tokens_mean": round(sum(tokens) / max(len(tokens), 1), 1),
        "sources": sources,
        "chunker": "ingestion.chunk.chunk_elements (300 tokens, overlap 50) on lxml blocks",
    }


def recombine(first: str, second: str) -> str:
    """The first half of `first`'s sentences followed by the second half of `second`'s."""
    head = sentences(first)
    tail = sentences(second)
    return " ".join([*head[: (len(head) + 1) // 2], *tail[len(tail) // 2 :]])


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()] or [text]


# Queries: real questions first, then sentences from the corpus.


@dataclass(frozen=True)
class Query:
    text: str
    lang: str
    origin: str  # "devset" or "corpus"


def load_queries(count: int, real_texts: Sequence[tuple[str, str]]) -> list[Query]:
    """The dev set's questions in file order, then sentences of seeded random real chunks
    (`real_texts`: (source, text) of every real chunk, in the layout's order)."""
    devset = [*load_questions(ANSWERABLE), *load_questions(UNANSWERABLE)]
    queries = [Query(q.text, q.lang, "devset") for q in devset][:count]
    rng = random.Random(SEED + 1)  # noqa: S311 - reproducible sampling
    while len(queries) < count and real_texts:
        source, text = real_texts[rng.randrange(len(real_texts))]
        sentence = _query_sentence(text, rng)
        if sentence:
            queries.append(Query(sentence, _language(source), "corpus"))
    return queries


def _query_sentence(text: str, rng: random.Random) -> str:
    """A sentence of 6-30 words (or 10-60 characters in Chinese), or "" if the chunk has none."""
    fitting = [
        s.strip()
        for s in sentences(text)
        if 6 <= len(s.split()) <= 30 or (" " not in s.strip() and 10 <= len(s.strip()) <= 60)
    ]
    return fitting[rng.randrange(len(fitting))] if fitting else ""


def _language(source: str) -> str:
    return {"zh-CN": "zh", "ru-RU": "ru"}.get(source.rsplit("/", 1)[-1], "en")


def describe_queries(queries: Sequence[Query]) -> Json:
    origins: dict[str, int] = {}
    languages: dict[str, int] = {}
    for query in queries:
        origins[query.origin] = origins.get(query.origin, 0) + 1
        languages[query.lang] = languages.get(query.lang, 0) + 1
    return {
        "count": len(queries),
        "origins": origins,
        "languages": languages,
        "sampling": "bench/devset questions in file order, then corpus sentences "
        "(6-30 words) from seeded random real chunks",
    }


def translation_queries(count: int) -> list[Query]:
    """Questions a search may translate: the cross-lingual dev set's (asked in another
    language than their page), then the same-language ones, whose own words usually find them."""
    asked = [*load_questions(CROSSLINGUAL), *load_questions(ANSWERABLE)]
    return [Query(q.text, q.lang, "devset") for q in asked][:count]


def dev_questions() -> list[str]:
    """The answerable dev-set questions' texts, for prompts and whole answers."""
    return [q.text for q in load_questions(ANSWERABLE)]
