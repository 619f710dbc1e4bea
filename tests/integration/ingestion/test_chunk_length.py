"""No chunk is longer than the embedding model reads: counted with the model's own tokenizer,
on every kind of text the parsers give (a tail past the limit would never be embedded)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from django.conf import settings

from ingestion.parsers.registry import parse_document
from ingestion.pipeline import model_chunks
from ingestion.types import ElementKind, ParsedElement
from kb.text.embeddings import load_embedder
from tests.support import samples

pytestmark = pytest.mark.integration


def _prose(sentence: str, count: int) -> str:
    return "".join(sentence.format(i=i) for i in range(count))


TEXTS = {
    "english": _prose("Sentence {i} says the storage engine flushes its write-ahead log. ", 200),
    "russian": _prose("Предложение {i} говорит, что движок сбрасывает журнал на диск. ", 200),
    "chinese": _prose("第{i}句话说明存储引擎会把预写日志刷新到磁盘上。", 300),
    "one-long-sentence": " and ".join(f"the replica number {i} follows" for i in range(400)),
    "a-blob": base64.b64encode(bytes(range(256)) * 12).decode(),
    "identifiers": " ".join(f"pg_stat_replication_{i}.write_lag_ms" for i in range(300)),
}


def _table(rows: int) -> ParsedElement:
    header = "Host | Role | City | Notes"
    lines = [f"db-{i}.internal | replica | Zürich | {'lag under a second ' * 8}" for i in range(rows)]
    return ParsedElement(ElementKind.TABLE, "\n".join([header, *lines]), 1, "Servers")


@pytest.mark.parametrize("kind", list(TEXTS), ids=list(TEXTS))
def test_no_chunk_exceeds_what_the_model_reads(kind: str) -> None:
    embedder = load_embedder(settings.KB_EMBED_MODEL)
    elements = [
        ParsedElement(ElementKind.TITLE, "A heading that leads the section", 1, "Heading"),
        ParsedElement(ElementKind.TEXT, TEXTS[kind], 1, "Heading"),
        _table(60),
    ]

    chunks = model_chunks(elements)

    lengths = [len(embedder.tokenize(chunk.text)) for chunk in chunks]
    assert len(chunks) > 2
    assert max(lengths) <= embedder.max_tokens == 254
    assert [chunk.token_count for chunk in chunks] == lengths


def test_parsed_files_chunk_within_the_limit(tmp_path: Path) -> None:
    embedder = load_embedder(settings.KB_EMBED_MODEL)
    files = [
        samples.text_pdf(tmp_path / "guide.pdf", [("Backup", samples.BACKUP_TEXT * 30)]),
        samples.docx(tmp_path / "policy.docx"),
        samples.xlsx(tmp_path / "servers.xlsx"),
        samples.html(tmp_path / "mail.html"),
    ]

    for path in files:
        chunks = model_chunks(parse_document(path, filename=path.name).elements)
        longest = max(len(embedder.tokenize(chunk.text)) for chunk in chunks)
        assert longest <= embedder.max_tokens, path.name
