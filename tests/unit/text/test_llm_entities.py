"""What the graph keeps of a model's entity reply: only parsable JSON naming text that is there."""

from __future__ import annotations

import pytest

from kb.text.llm_entities import parse_reply

pytestmark = pytest.mark.unit
PASSAGE = "PostgreSQL replays the WAL written by pg_basebackup. Contact Anna Petrova."


def test_entities_and_relations_are_read_from_json_inside_prose() -> None:
    reply = """Sure! ```json
    {"entities": [{"name": "PostgreSQL", "type": "Technology"}, {"name": "WAL", "type": "concept"},
                  {"name": "Anna Petrova", "type": "person"}],
     "relations": [{"source": "WAL", "target": "PostgreSQL"}]}
    ```"""

    parsed = parse_reply(reply, PASSAGE)

    assert parsed is not None
    assert [(e.key, e.name, e.type) for e in parsed.entities] == [
        ("postgresql", "PostgreSQL", "technology"),
        ("wal", "WAL", "concept"),
        ("anna petrova", "Anna Petrova", "person"),
    ]
    assert [(r.source_key, r.target_key) for r in parsed.relations] == [("postgresql", "wal")]


def test_names_not_in_the_passage_are_dropped_with_their_relations() -> None:
    reply = (
        '{"entities": [{"name": "PostgreSQL"}, {"name": "Secret Project X"}],'
        ' "relations": [{"source": "PostgreSQL", "target": "Secret Project X"}]}'
    )

    parsed = parse_reply(reply, PASSAGE)

    assert parsed is not None
    assert [e.key for e in parsed.entities] == ["postgresql"]
    assert parsed.relations == []


@pytest.mark.parametrize(
    "reply",
    ["I cannot help with that.", "{not json}", '["a list"]', '{"entities": "PostgreSQL"}'],
    ids=["prose", "broken-json", "not-an-object", "wrong-shape"],
)
def test_unusable_replies_yield_nothing_to_keep(reply: str) -> None:
    parsed = parse_reply(reply, PASSAGE)

    assert parsed is None or parsed.entities == []
