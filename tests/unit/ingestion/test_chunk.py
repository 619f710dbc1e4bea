"""Chunking: sizes, overlap, one section per chunk, starting page, tables, CJK and Cyrillic."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys

import pytest

from ingestion.chunk import chunk_elements, count_tokens
from ingestion.types import Chunk, ElementKind, ParsedElement
from tests.support.paths import ROOT

pytestmark = pytest.mark.unit

LOW, HIGH = 200, 400  # what "a few hundred tokens" means for the default 300-token chunks

SENTENCES = {
    "english": "Sentence {i} says the storage engine flushes its write-ahead log to disk. ",
    "russian": "Предложение {i} говорит, что движок хранения сбрасывает журнал на диск. ",
    "chinese": "第{i}句话说明存储引擎会把预写日志刷新到磁盘上。",
}
SENTENCE_END = re.compile(r"[.!?。！？]$")


def prose(language: str, count: int, start: int = 0) -> str:
    return "".join(SENTENCES[language].format(i=i) for i in range(start, start + count)).strip()


def text(body: str, *, section: str = "Intro", page: int | None = 1) -> ParsedElement:
    return ParsedElement(ElementKind.TEXT, body, page, section)


def title(words: str, *, page: int | None = 1) -> ParsedElement:
    return ParsedElement(ElementKind.TITLE, words, page, words)


def table(rows: int, *, section: str = "Prices", page: int | None = 1) -> ParsedElement:
    lines = ["Product | Region | Price"] + [f"Item {i} | EMEA | {i * 10}" for i in range(rows)]
    return ParsedElement(ElementKind.TABLE, "\n".join(lines), page, section)


def in_section(chunks: list[Chunk], section: str) -> list[Chunk]:
    return [chunk for chunk in chunks if chunk.section == section]


@pytest.mark.parametrize("language", list(SENTENCES), ids=list(SENTENCES))
def test_long_section_gives_several_chunks_of_a_few_hundred_tokens(language: str) -> None:
    # given one section of about 2,000 tokens
    elements = [text(prose(language, 150))]

    # when it is chunked with the defaults
    chunks = chunk_elements(elements)

    # then it gives several chunks within bounds (the last may be shorter) that end on a sentence
    assert len(chunks) >= 4
    assert all(LOW <= chunk.token_count <= HIGH for chunk in chunks[:-1])
    assert chunks[-1].token_count <= HIGH
    assert all(SENTENCE_END.search(chunk.text) for chunk in chunks)


@pytest.mark.parametrize("language", list(SENTENCES), ids=list(SENTENCES))
def test_consecutive_chunks_of_a_section_overlap(language: str) -> None:
    # given one long section of short sentences
    elements = [text(prose(language, 150))]

    # when it is chunked with 60 tokens of overlap
    chunks = chunk_elements(elements, overlap_tokens=60)

    # then each chunk starts with a sentence that ends the chunk before it
    for before, after in itertools.pairwise(chunks):
        first_sentence = re.split(r"(?<=[.。])\s*", after.text)[0]
        assert first_sentence in before.text


def test_chunks_never_mix_two_sections() -> None:
    # given two sections with different words, each longer than one chunk
    elements = [
        text(prose("english", 60), section="Storage"),
        text(prose("russian", 60), section="Хранение"),
    ]

    # when they are chunked
    chunks = chunk_elements(elements)

    # then every chunk holds the words of its own section only
    assert {chunk.section for chunk in chunks} == {"Storage", "Хранение"}
    for chunk in chunks:
        cyrillic = bool(re.search("[а-я]", chunk.text))
        assert cyrillic == (chunk.section == "Хранение")


def test_a_chunk_carries_the_page_where_its_text_starts() -> None:
    # given one section spread over three pages, each sentence naming its page
    elements = [
        text(" ".join(f"Page {page} line {i} covers backups." for i in range(70)), page=page)
        for page in (1, 2, 3)
    ]

    # when it is chunked
    chunks = chunk_elements(elements)

    # then each chunk's page is the page of its first sentence
    assert len(chunks) >= 3
    for chunk in chunks:
        first_page = re.match(r"Page (\d)", chunk.text)
        assert first_page is not None
        assert chunk.page == int(first_page.group(1))


def test_a_long_table_is_split_by_rows_under_a_repeated_header() -> None:
    # given a table far longer than one chunk
    elements = [table(300)]

    # when it is chunked
    chunks = chunk_elements(elements)

    # then every piece starts with the header row and the rows come once each, in order
    assert len(chunks) >= 3
    assert all(chunk.text.splitlines()[0] == "Product | Region | Price" for chunk in chunks)
    rows = [row for chunk in chunks for row in chunk.text.splitlines()[1:]]
    assert rows == [f"Item {i} | EMEA | {i * 10}" for i in range(300)]
    assert all(chunk.token_count <= HIGH for chunk in chunks)


def test_a_table_is_a_chunk_of_its_own_between_prose() -> None:
    # given prose, a short table and more prose in one section
    elements = [
        text(prose("english", 5), section="Prices"),
        table(3),
        text(prose("english", 5, start=5), section="Prices"),
    ]

    # when it is chunked
    chunks = chunk_elements(elements)

    # then the table stands alone, between the two pieces of prose
    assert [chunk.text.startswith("Product |") for chunk in chunks] == [False, True, False]
    assert "Sentence" not in chunks[1].text


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(text(prose("english", 60), section="Backups"), id="prose-under-title"),
        pytest.param(table(200, section="Backups"), id="table-under-title"),
    ],
)
def test_a_title_starts_the_first_chunk_of_its_section(body: ParsedElement) -> None:
    # given a title followed by a body longer than one chunk
    elements = [title("Backups"), body]

    # when it is chunked
    chunks = chunk_elements(elements)

    # then the title opens the first chunk only, and is no chunk of its own
    assert chunks[0].text.startswith("Backups\n\n")
    assert chunks[0].text != "Backups"
    assert not any(chunk.text.startswith("Backups") for chunk in chunks[1:])
    assert {chunk.section for chunk in chunks} == {"Backups"}


def test_a_title_with_no_body_leads_the_next_section() -> None:
    # given a chapter title directly followed by a subsection title and its text
    elements = [
        title("Chapter 1"),
        ParsedElement(ElementKind.TITLE, "Setup", 1, "Chapter 1 > Setup"),
        text(prose("english", 3), section="Chapter 1 > Setup"),
    ]

    # when it is chunked
    chunks = chunk_elements(elements)

    # then both heading lines open the one chunk of the subsection
    assert len(chunks) == 1
    assert chunks[0].text.startswith("Chapter 1\n\nSetup\n\n")
    assert chunks[0].section == "Chapter 1 > Setup"


def test_a_short_tail_joins_the_chunk_before_it() -> None:
    # given a section a little longer than one chunk
    elements = [text(prose("english", 30))]

    # when it is chunked into 400-token chunks
    chunks = chunk_elements(elements, chunk_tokens=400)

    # then the few tokens left over join the first chunk instead of standing alone
    assert len(chunks) == 1
    assert chunks[0].text == prose("english", 30)


def test_chunks_are_numbered_from_zero_and_counted() -> None:
    # given several sections, prose and a table
    elements = [
        title("Intro"),
        text(prose("english", 80)),
        table(100),
        text(prose("chinese", 80), section="中文"),
    ]

    # when they are chunked
    chunks = chunk_elements(elements)

    # then numbers run 0..n-1 and each token count matches the text
    assert [chunk.number for chunk in chunks] == list(range(len(chunks)))
    assert all(chunk.token_count == count_tokens(chunk.text) for chunk in chunks)
    assert len(in_section(chunks, "中文")) >= 2


def test_chunking_is_deterministic() -> None:
    # given a mixed document
    elements = [
        title("Intro"),
        text(prose("english", 90)),
        table(120, section="Intro"),
        text(prose("russian", 90), section="Раздел"),
    ]

    # when it is chunked twice
    first, second = chunk_elements(elements), chunk_elements(elements)

    # then both results are equal
    assert first == second


def test_empty_input_gives_no_chunks() -> None:
    # given no elements, or only blank ones
    # when they are chunked
    # then there is nothing to index
    assert chunk_elements([]) == []
    assert chunk_elements([text("   ")]) == []


@pytest.mark.parametrize(
    ("chunk_tokens", "overlap_tokens"),
    [
        pytest.param(0, 0, id="no-room"),
        pytest.param(100, 100, id="overlap-as-large-as-chunk"),
        pytest.param(100, -1, id="negative-overlap"),
    ],
)
def test_impossible_sizes_are_refused(chunk_tokens: int, overlap_tokens: int) -> None:
    # given sizes that cannot make progress
    # when chunking is asked with them
    # then it refuses
    with pytest.raises(ValueError, match="chunk_tokens"):
        chunk_elements([text("Hello.")], chunk_tokens=chunk_tokens, overlap_tokens=overlap_tokens)


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        pytest.param("Backups run nightly.", 4, id="english-words-and-period"),
        pytest.param("数据库备份。", 6, id="chinese-one-per-character"),
        pytest.param("Резервные копии, ночью!", 5, id="russian-words-and-marks"),
        pytest.param("v2.1 uses 数据", 6, id="mixed-scripts"),
    ],
)
def test_tokens_are_words_marks_and_cjk_characters(sample: str, expected: int) -> None:
    # given a sample in one script or several
    # when its tokens are counted
    # then words, punctuation marks and each CJK character count one each
    assert count_tokens(sample) == expected


def test_chunking_needs_no_downloaded_tokenizer_data() -> None:
    # given a fresh interpreter where NLTK and tiktoken would look in empty folders
    probe = (
        "import sys; from ingestion.chunk import chunk_elements;"
        "from ingestion.types import ParsedElement, ElementKind;"
        "chunk_elements([ParsedElement(ElementKind.TEXT, 'Backups run. ' * 300)]);"
        "print(sorted(m for m in ('nltk', 'tiktoken') if m in sys.modules))"
    )
    env = {**os.environ, "NLTK_DATA": "/nonexistent", "TIKTOKEN_CACHE_DIR": "/nonexistent"}

    # when it chunks a long text
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    # then neither library was even imported, so nothing could be fetched
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_document_of_titles_only_still_yields_its_text() -> None:
    # given: slides whose bullets the parser tagged as titles, and nothing else
    elements = [
        ParsedElement(ElementKind.TITLE, "Quarterly results", page=1, section="Quarterly results"),
        ParsedElement(ElementKind.TITLE, "Revenue up 12%", page=2, section="Revenue up 12%"),
    ]

    # when
    chunks = chunk_elements(elements)

    # then: the text is kept, not dropped for lack of a body
    assert len(chunks) == 1
    assert "Quarterly results" in chunks[0].text and "Revenue up 12%" in chunks[0].text
    assert chunks[0].page == 1
