"""Cuts parsed elements into retrievable chunks of a few hundred tokens, one section at a time.

A chunk never spans two sections, so its `section` is exact and access or citation by section
stays honest. Text is split by llama-index's SentenceSplitter, configured so that it needs no
downloaded data: sentences are found by our own regex (NLTK's punkt would be looked up, and
fetched if missing, and it does not split Chinese), and tokens are counted by `count_tokens`
(tiktoken would need its encoding file). Tables are cut by rows, each piece repeating the header
row so that every piece can be read alone.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from llama_index.core import Document
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import BaseNode

from ingestion.types import Chunk, ElementKind, ParsedElement
from kb.text.script import CJK_EXTENDED

# Han, kana, Hangul and CJK symbols: scripts written without spaces, one token per character.
_TOKEN = re.compile(rf"[{CJK_EXTENDED}]|[^\W{CJK_EXTENDED}]+|[^\w\s]")
# A sentence ends at . ! ? … followed by space, or at 。！？ which need no space after them.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*\s+|[。！？]+[”’」』）]*\s*")
# Within an over-long sentence: cut after commas, semicolons and their full-width forms.
_CLAUSE = "[^,.;，；、。？！]+[,.;，；、。？！]?|[,.;，；、。？！]"
_PARAGRAPH = "\n\n"


def count_tokens(text: str) -> int:
    """Tokens as the chunker counts them: a word, a number, a punctuation mark or a CJK character.

    Deterministic, needs no model file and does not change with the embedding model. English
    gives 10-20% more BERT word pieces than these tokens, Chinese as many.
    """
    return len(_TOKEN.findall(text))


# 300 by default, the low end of 300-500: the default embedding model reads only 256 word
# pieces, so a longer chunk would be embedded only in part.
CHUNK_TOKENS = 300
OVERLAP_TOKENS = 50


def chunk_elements(
    elements: Sequence[ParsedElement],
    *,
    chunk_tokens: int = CHUNK_TOKENS,
    overlap_tokens: int = OVERLAP_TOKENS,
) -> list[Chunk]:
    """Chunks of about `chunk_tokens` tokens, numbered from 0 in reading order; consecutive
    chunks of a section share up to `overlap_tokens` tokens of whole sentences."""
    if chunk_tokens <= 0 or not 0 <= overlap_tokens < chunk_tokens:
        raise ValueError("need chunk_tokens > 0 and 0 <= overlap_tokens < chunk_tokens")
    cutter = _Cutter(chunk_tokens=chunk_tokens, overlap_tokens=overlap_tokens)
    pieces = [piece for section in _sections(elements) for piece in cutter.section(section)]
    return [
        Chunk(number=number, text=text, page=page, section=section, token_count=count_tokens(text))
        for number, (text, page, section) in enumerate(pieces)
    ]


@dataclass
class _Section:
    name: str
    titles: list[ParsedElement] = field(default_factory=list)
    body: list[ParsedElement] = field(default_factory=list)


def _sections(elements: Sequence[ParsedElement]) -> list[_Section]:
    """Consecutive elements grouped by section; a title opens a section of its own.

    A title's `section` is the heading path it opens (else its own text). Titles with no body
    before the next title lead the next section, so that no heading line is lost.
    """
    sections: list[_Section] = []
    for element in elements:
        if not element.text.strip():
            continue
        current = sections[-1] if sections else None
        if element.kind is ElementKind.TITLE:
            waiting = current.titles if current is not None and not current.body else []
            if waiting:
                sections.pop()
            name = element.section or element.text.strip()
            sections.append(_Section(name, titles=[*waiting, element]))
        elif current is not None and _belongs(element, current):
            if not current.body:
                current.name = element.section  # the body's path may be the fuller one
            current.body.append(element)
        else:
            sections.append(_Section(element.section, body=[element]))
    if sections and not sections[-1].body:  # trailing titles (or a document of titles only,
        last = sections[-1]  # like slides of short bullets) are the text: never drop them
        last.body = [replace(t, kind=ElementKind.TEXT) for t in last.titles]
        last.titles = []
    return [section for section in sections if section.body]


def _belongs(element: ParsedElement, section: _Section) -> bool:
    """Body joins the open section; right after a title, also when the parser named the body's
    section by the full heading path and the title's by its parent path."""
    if element.section == section.name:
        return True
    if section.body or not section.titles:
        return False
    return element.section.endswith(section.titles[-1].text.strip())


_Piece = tuple[str, int | None, str]  # text, page, section


class _Cutter:
    """Cuts one section at a time with a splitter configured once per `chunk_elements` call."""

    def __init__(self, *, chunk_tokens: int, overlap_tokens: int) -> None:
        self.chunk_tokens = chunk_tokens
        self.min_tail = chunk_tokens // 4
        self.splitter = SentenceSplitter(
            chunk_size=chunk_tokens,
            chunk_overlap=overlap_tokens,
            tokenizer=_TOKEN.findall,
            paragraph_separator=_PARAGRAPH,
            chunking_tokenizer_fn=_split_sentences,
            secondary_chunking_regex=_CLAUSE,
            include_metadata=False,
            include_prev_next_rel=False,
            id_func=lambda index, document: f"{document.id_}:{index}",
        )

    def section(self, section: _Section) -> Iterator[_Piece]:
        """Text runs and tables in order; the title lines start the section's first chunk."""
        lead = section.titles
        for run in _runs(section.body):
            if run[0].kind is ElementKind.TABLE:
                texts = self.table(run[0].text, lead=_join(lead)[0])
                first_page = (lead or run)[0].page  # the title's, when it opens the piece
                for index, text in enumerate(texts):
                    yield text, first_page if index == 0 else run[0].page, section.name
            else:
                yield from ((text, page, section.name) for text, page in self.text([*lead, *run]))
            lead = []

    def text(self, elements: Sequence[ParsedElement]) -> list[tuple[str, int | None]]:
        """Sentence-aware pieces of the joined elements, each with the page where it starts."""
        joined, starts = _join(elements)
        nodes = self.splitter.get_nodes_from_documents([Document(text=joined, id_="run")])
        spans = self._merge_short_tail([_span(node) for node in nodes], joined)
        return [
            (joined[start:end], elements[bisect.bisect_right(starts, start) - 1].page)
            for start, end in spans
        ]

    def _merge_short_tail(self, spans: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
        """A last chunk adding fewer than `min_tail` new tokens beyond its overlap says little
        alone; the chunk before it takes those tokens (staying under 1.25 x chunk_tokens)."""
        if len(spans) > 1 and count_tokens(text[spans[-2][1] : spans[-1][1]]) < self.min_tail:
            spans[-2:] = [(spans[-2][0], spans[-1][1])]
        return spans

    def table(self, text: str, *, lead: str) -> list[str]:
        """Row groups under a repeated header row; an over-long row is cut like prose."""
        header, *rows = [row for row in text.splitlines() if row.strip()]
        budget = max(self.chunk_tokens - count_tokens(header), self.min_tail)
        parts = [part for row in rows for part in self._row_parts(row, budget)]
        groups: list[list[str]] = []
        for part in parts:
            if groups and count_tokens("\n".join([*groups[-1], part])) <= budget:
                groups[-1].append(part)
            else:
                groups.append([part])
        if len(groups) > 1 and count_tokens("\n".join(groups[-1])) < self.min_tail:
            groups[-2:] = [groups[-2] + groups[-1]]
        pieces = ["\n".join([header, *group]) for group in groups] or [header]
        if lead:
            pieces[0] = f"{lead}{_PARAGRAPH}{pieces[0]}"
        return pieces

    def _row_parts(self, row: str, budget: int) -> list[str]:
        if count_tokens(row) <= budget:
            return [row]
        return SentenceSplitter(
            chunk_size=max(budget, 1),
            chunk_overlap=0,
            tokenizer=_TOKEN.findall,
            chunking_tokenizer_fn=_split_sentences,
            secondary_chunking_regex=_CLAUSE,
        ).split_text(row)


def _runs(body: Sequence[ParsedElement]) -> Iterator[list[ParsedElement]]:
    """Consecutive non-table elements form one run; every table is a run of its own."""
    run: list[ParsedElement] = []
    for element in body:
        if element.kind is ElementKind.TABLE:
            if run:
                yield run
            yield [element]
            run = []
        else:
            run.append(element)
    if run:
        yield run


def _join(elements: Sequence[ParsedElement]) -> tuple[str, list[int]]:
    """The elements as paragraphs of one text, and the offset where each element starts."""
    texts = [element.text.strip() for element in elements]
    starts: list[int] = []
    offset = 0
    for text in texts:
        starts.append(offset)
        offset += len(text) + len(_PARAGRAPH)
    return _PARAGRAPH.join(texts), starts


def _span(node: BaseNode) -> tuple[int, int]:
    start = getattr(node, "start_char_idx", None)
    end = getattr(node, "end_char_idx", None)
    if start is None or end is None:
        raise RuntimeError("the splitter lost a chunk's position in its section")
    return start, end


def _split_sentences(text: str) -> list[str]:
    """Sentences with their trailing punctuation and space, so that they join back to `text`."""
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        pieces.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces
