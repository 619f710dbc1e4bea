"""Rule-based entity extraction: keys merge variants, salient spans are found, questions link."""

from __future__ import annotations

import pytest

from kb.stores.types import GraphEntity
from kb.text.entities import (
    cooccurrence_relations,
    extract_entities,
    extract_query_entities,
    normalise_key,
)

pytestmark = pytest.mark.unit

POSTGRES_PARAGRAPH = """PostgreSQL uses the Write-Ahead Log (WAL) to guarantee durability.
Before a data page is changed, the change is recorded in the WAL, so after a crash the database
can be recovered by replaying the log. To take a logical backup, run `pg_dump` against the
database; for a physical backup, archive WAL segments and use pg_basebackup. The Debian Project
packages PostgreSQL, so on Debian you install it with `apt-get install postgresql`. Raise
max_connections in postgresql.conf if many backups run at once."""

RUSSIAN_PARAGRAPH = """Компания Яндекс разработала систему ClickHouse. Сергей Иванов из Яндекса
рассказал, что база данных ClickHouse хранит данные по столбцам. Базы данных такого типа
подходят для аналитики, а в Москве работает команда разработчиков."""

CHINESE_PARAGRAPH = """数据库备份是保证数据安全的重要手段。
使用逻辑备份工具可以导出数据库的结构和数据，物理备份则复制数据文件。
定期检查备份文件能够避免数据丢失。"""


def _by_key(entities: list[GraphEntity]) -> dict[str, GraphEntity]:
    return {entity.key: entity for entity in entities}


@pytest.mark.parametrize(
    ("variants", "key"),
    [
        pytest.param(
            ["PostgreSQL", "postgresql", " PostgreSQL ", "Postgresql"], "postgresql", id="case"
        ),
        pytest.param(
            ["Write-Ahead  Log", "«write-ahead log»", "Write-Ahead Logs"],
            "write-ahead log",
            id="spaces-quotes-plural",
        ),
        pytest.param(["Queries", "query"], "query", id="ies-plural"),
        pytest.param(["Москва", "Москвы", "москве"], "москв", id="russian-inflection"),
        pytest.param(["ＷＡＬ", "WAL."], "wal", id="full-width-and-trailing-dot"),
    ],
)
def test_normalise_key_merges_variants(variants: list[str], key: str) -> None:
    assert {normalise_key(variant) for variant in variants} == {key}


@pytest.mark.parametrize(
    "name",
    ["Redis", "macOS", "pandas", "status", "pg_stats", "/etc/hosts"],
    ids=["is-ending", "os-ending", "as-ending", "us-ending", "identifier", "path"],
)
def test_normalise_key_leaves_name_like_endings_alone(name: str) -> None:
    assert normalise_key(name) == name.casefold()


def test_technical_paragraph_yields_its_names_acronyms_and_identifiers() -> None:
    # given a realistic English paragraph about PostgreSQL
    # when entities are extracted
    found = _by_key(extract_entities(POSTGRES_PARAGRAPH, limit=20))

    # then the product, the acronym, the tools and the multi-word names are all there
    assert found["postgresql"].name == "PostgreSQL"
    assert found["wal"].type == "acronym"
    assert found["pg_dump"].type == "identifier"
    assert found["max_connections"].type == "identifier"
    assert found["postgresql.conf"].type == "identifier"
    assert found["debian project"].type == "name"
    assert found["write-ahead log"].name == "Write-Ahead Log"
    assert found["backup"].type == "keyphrase"


def test_stopwords_numbers_and_generic_words_are_not_entities() -> None:
    text = "The 2024 release is used in 3 ways. The example shows it. Use it, use it 10 times."

    keys = {entity.key for entity in extract_entities(text, limit=50)}

    assert not keys & {"the", "2024", "3", "10", "use", "used", "example", "ways", "it", "way"}


def test_sentence_opening_words_do_not_become_names() -> None:
    text = "Backups run nightly. Install PostgreSQL on Debian. Restart it after that."

    keys = {entity.key for entity in extract_entities(text)}

    assert {"postgresql", "debian"} <= keys
    assert not keys & {"backup", "install", "install postgresql", "restart"}


def test_chinese_keywords_are_found() -> None:
    keys = {entity.key for entity in extract_entities(CHINESE_PARAGRAPH)}

    assert {"备份", "数据库"} <= keys
    assert not keys & {"的", "是", "使用"}


def test_identifiers_survive_inside_chinese_text() -> None:
    keys = {entity.key for entity in extract_entities("使用pg_dump工具导出PostgreSQL数据库。")}

    assert {"pg_dump", "postgresql", "数据库"} <= keys


def test_russian_names_are_found_and_inflections_merged() -> None:
    found = _by_key(extract_entities(RUSSIAN_PARAGRAPH))

    assert found[normalise_key("Сергей Иванов")].type == "name"
    assert normalise_key("Яндекс") in found  # "Яндекс" and "Яндекса" are one key
    assert normalise_key("Москва") in found  # seen only as "Москве"
    assert normalise_key("база данных") in found  # "база данных" and "Базы данных"


@pytest.mark.parametrize("limit", [0, 1, 5], ids=["zero", "one", "five"])
def test_limit_caps_the_result(limit: int) -> None:
    assert len(extract_entities(POSTGRES_PARAGRAPH, limit=limit)) == limit


def test_extraction_is_deterministic_and_ordered_by_score_then_key() -> None:
    first = extract_entities(POSTGRES_PARAGRAPH, limit=30)
    second = extract_entities(POSTGRES_PARAGRAPH, limit=30)

    assert first == second
    assert len({entity.key for entity in first}) == len(first)


@pytest.mark.parametrize("text", ["", "   ", "the and of 42"], ids=["empty", "blank", "noise"])
def test_text_without_entities_yields_nothing(text: str) -> None:
    assert extract_entities(text) == []


def test_question_links_to_keys_extracted_from_a_document() -> None:
    # given the keys a document paragraph put into the graph
    document_keys = {entity.key for entity in extract_entities(POSTGRES_PARAGRAPH)}

    # when a short lowercase question is turned into candidate keys
    candidates = extract_query_entities("how do I configure pg_dump for postgresql")

    # then it links to both entities, and offers no stopword as a key
    assert {"pg_dump", "postgresql"} <= document_keys & set(candidates)
    assert not set(candidates) & {"how", "do", "i", "for"}


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        pytest.param("what is the write-ahead log", {"write-ahead log"}, id="multi-word"),
        pytest.param("restoring debian project backups", {"debian project", "backup"}, id="plural"),
        pytest.param("где работает Яндекс в Москве", {"яндекс", "москв"}, id="russian"),
        pytest.param("如何备份数据库", {"备份", "数据库"}, id="chinese"),
    ],
)
def test_query_candidates_include_words_and_phrases(question: str, expected: set[str]) -> None:
    assert expected <= set(extract_query_entities(question))


def test_relations_pair_distinct_top_entities_and_are_bounded() -> None:
    entities = [GraphEntity(key=f"entity {n:02}", name=f"Entity {n}") for n in range(20)]

    relations = cooccurrence_relations(entities)

    assert len(relations) == 28
    assert all(relation.weight == 1.0 for relation in relations)
    assert all(relation.source_key < relation.target_key for relation in relations)
    assert {relation.source_key for relation in relations} <= {f"entity {n:02}" for n in range(8)}


def test_relations_ignore_duplicate_keys_and_single_entities() -> None:
    twice = [GraphEntity(key="wal", name="WAL"), GraphEntity(key="wal", name="wal")]

    assert cooccurrence_relations(twice) == []
    assert cooccurrence_relations([]) == []


def test_relations_from_a_real_chunk_stay_within_the_bound() -> None:
    relations = cooccurrence_relations(extract_entities(POSTGRES_PARAGRAPH, limit=30))

    assert 0 < len(relations) <= 28
    assert len({(r.source_key, r.target_key) for r in relations}) == len(relations)
