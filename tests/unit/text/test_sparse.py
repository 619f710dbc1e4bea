"""The sparse encoder: one tokenizer for index and query, stable term ids, BM25 TF weights."""

from __future__ import annotations

import pytest

from kb.text.sparse import SparseEncoder, term_index, tokenize

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("connections", "connection", id="english-plural"),
        pytest.param("Configuring", "configure", id="english-verb-and-case"),
        pytest.param("базы", "база", id="russian-case-ending"),
        pytest.param("данных", "данные", id="russian-plural"),
        pytest.param("ёлка", "елка", id="russian-yo"),
    ],
)
def test_inflected_forms_share_one_term(first: str, second: str) -> None:
    # given two forms of one word
    # when both are tokenized
    # then they index as the same single term
    assert tokenize(first) == tokenize(second)
    assert len(tokenize(first)) == 1


def test_chinese_is_segmented_into_words() -> None:
    # given a Chinese phrase with no spaces
    # when it is tokenized
    tokens = tokenize("数据库备份")

    # then jieba splits it into multi-character words, not single characters
    assert tokens == ["数据库", "备份"]


@pytest.mark.parametrize(
    ("text", "dropped"),
    [
        pytest.param("the backup of the database", {"the", "of"}, id="english"),
        pytest.param("резервная копия и база", {"и"}, id="russian"),
        pytest.param("数据库的备份", {"的"}, id="chinese"),
    ],
)
def test_stopwords_are_dropped(text: str, dropped: set[str]) -> None:
    tokens = tokenize(text)

    assert tokens
    assert not dropped & set(tokens)


@pytest.mark.parametrize(
    "identifier",
    ["pg_dump", "max_connections", "ipv6", "x86_64", "5432"],
    ids=["underscore", "snake-case-plural", "letters-and-digits", "arch", "number"],
)
def test_identifiers_and_numbers_are_kept_whole(identifier: str) -> None:
    tokens = tokenize(f"Run {identifier} now.")

    assert identifier in tokens


def test_mixed_language_text_keeps_every_script() -> None:
    tokens = tokenize("使用pg_dump备份 базы PostgreSQL")

    assert tokens == ["使用", "pg_dump", "备份", "баз", "postgresql"]


def test_term_index_is_pinned_across_processes_and_releases() -> None:
    # given the documented hash (blake2b, 4 bytes, masked to 31 bits)
    # then a known term keeps the id already stored in every index
    assert term_index("postgresql") == 630895220
    assert all(0 <= term_index(term) < 2**31 for term in ("a", "数据库", "база", "x" * 500))


def test_document_weights_grow_with_term_frequency() -> None:
    encoder = SparseEncoder()
    text = "backup backup backup restore restore archive"

    vector = encoder.encode_document(text)

    weights = dict(zip(vector.indices, vector.values, strict=True))
    backup, restore, archive = (weights[term_index(t)] for t in ("backup", "restor", "archiv"))
    assert backup > restore > archive > 0
    assert list(vector.indices) == sorted(set(vector.indices))


def test_document_weight_follows_bm25_saturation() -> None:
    # given k1=1.2, b=0.75 and a document exactly as long as avgdl
    encoder = SparseEncoder(avgdl=4.0)

    # when a term occurs twice among four tokens
    vector = encoder.encode_document("backup backup restore archive")

    # then tf*(k1+1)/(tf+k1) applies with length normalisation 1
    weights = dict(zip(vector.indices, vector.values, strict=True))
    assert weights[term_index("backup")] == pytest.approx(2 * 2.2 / (2 + 1.2))
    assert weights[term_index("restor")] == pytest.approx(2.2 / 2.2)


def test_longer_documents_weigh_a_term_less() -> None:
    encoder = SparseEncoder(avgdl=10.0)

    short = encoder.encode_document("backup")
    long = encoder.encode_document("backup " + " ".join(f"word{n}" for n in range(40)))

    index = term_index("backup")
    assert (
        dict(zip(short.indices, short.values, strict=True))[index]
        > dict(zip(long.indices, long.values, strict=True))[index]
    )


def test_query_has_unit_weight_per_distinct_term() -> None:
    vector = SparseEncoder().encode_query("Backups, backup and BACKUP of pg_dump")

    assert list(vector.indices) == sorted([term_index("backup"), term_index("pg_dump")])
    assert list(vector.values) == [1.0, 1.0]


def test_query_and_document_share_term_ids() -> None:
    encoder = SparseEncoder()

    query = encoder.encode_query("configuring connections")
    document = encoder.encode_document("PostgreSQL configuration limits the connection count.")

    assert set(query.indices) <= set(document.indices)


@pytest.mark.parametrize("text", ["", "   ", "the of and", "!!! ..."], ids=lambda t: repr(t))
def test_text_without_terms_encodes_to_an_empty_vector(text: str) -> None:
    encoder = SparseEncoder()

    for vector in (encoder.encode_document(text), encoder.encode_query(text)):
        assert list(vector.indices) == []
        assert list(vector.values) == []


@pytest.mark.parametrize(
    "arguments",
    [{"avgdl": 0.0}, {"k1": -1.0}, {"b": 1.5}],
    ids=["zero-avgdl", "negative-k1", "b-above-one"],
)
def test_encoder_rejects_impossible_parameters(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SparseEncoder(**arguments)
