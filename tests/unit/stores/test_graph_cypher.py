"""The write deltas shared by both graph adapters: what a rewrite, a retry and a delete change."""

from __future__ import annotations

import pytest

from kb.stores.graph_cypher import ChunkState, Edge, changes, parse_relation, relation_entry

pytestmark = pytest.mark.unit


def state(mentions: str, **relations: float) -> ChunkState:
    """`state("a b", a_b=1.0)`: mentions a and b, supports a - b with weight 1."""
    edges: dict[Edge, float] = {}
    for name, weight in relations.items():
        source, target = name.split("_")
        edges[(source, target)] = weight
    return ChunkState(frozenset(mentions.split()), edges)


def test_writing_the_same_state_again_changes_nothing() -> None:
    # given: chunks whose weights do not add up exactly in floating point
    old = {"c1": state("a b", a_b=0.1), "c2": state("a b", a_b=0.2), "c3": state("a")}
    # when
    delta = changes(old, dict(old))
    # then
    assert delta.relations == []
    assert delta.mention_adds == delta.mention_removals == []
    assert delta.mention_counts == {}
    assert delta.relation_lists == []


def test_a_new_chunk_adds_its_mentions_and_support() -> None:
    delta = changes({}, {"c1": state("a b", a_b=2.0), "c2": state("a")})

    assert delta.mention_adds == [
        {"chunk_id": "c1", "key": "a"},
        {"chunk_id": "c1", "key": "b"},
        {"chunk_id": "c2", "key": "a"},
    ]
    assert delta.mention_counts == {"a": 2, "b": 1}
    assert delta.relations == [relation("a", "b", 2.0, 1)]
    assert delta.weakened_relations == []
    # then: a new chunk gets its list even when empty: it marks the chunk as written
    assert delta.relation_lists == [
        {"id": "c1", "relations": ["a\x1fb\x1f2.0"]},
        {"id": "c2", "relations": []},
    ]


def test_a_rewritten_chunk_replaces_its_old_contribution() -> None:
    # given: c1 supported a - b; c2 supports it too
    old = {"c1": state("a b", a_b=1.0), "c2": state("a b", a_b=4.0)}
    # when: c1 now supports a - c instead
    delta = changes(old, {"c1": state("a c", a_c=2.0), "c2": state("a b", a_b=4.0)})
    # then
    assert delta.mention_adds == [{"chunk_id": "c1", "key": "c"}]
    assert delta.mention_removals == [{"chunk_id": "c1", "key": "b"}]
    assert delta.mention_counts == {"c": 1, "b": -1}
    assert delta.relations == [relation("a", "b", -1.0, -1), relation("a", "c", 2.0, 1)]
    assert delta.weakened_relations == ["a\x1fb"]
    assert delta.relation_lists == [{"id": "c1", "relations": ["a\x1fc\x1f2.0"]}]


def test_a_changed_weight_keeps_the_support_count() -> None:
    delta = changes({"c1": state("a b", a_b=1.0)}, {"c1": state("a b", a_b=3.0)})

    assert delta.relations == [relation("a", "b", 2.0, 0)]
    assert delta.weakened_relations == []


def test_deleting_chunks_subtracts_exactly_their_own_contribution() -> None:
    # given
    old = {"c1": state("a b x", a_b=1.5), "c2": state("b c", b_c=2.0)}
    # when: both are deleted (absent from the new states)
    delta = changes(old, {})
    # then
    assert delta.mention_counts == {"a": -1, "b": -2, "x": -1, "c": -1}
    assert delta.relations == [relation("a", "b", -1.5, -1), relation("b", "c", -2.0, -1)]
    assert delta.weakened_relations == ["a\x1fb", "b\x1fc"]
    assert delta.relation_lists == []


def relation(source: str, target: str, weight: float, support: int) -> dict[str, object]:
    key = f"{source}\x1f{target}"
    return {"key": key, "source": source, "target": target, "weight": weight, "support": support}


@pytest.mark.parametrize("weight", [1.0, 0.1, 1 / 3, 1e-300, 12345.678901234567])
def test_a_stored_relation_reads_back_with_the_exact_weight(weight: float) -> None:
    assert parse_relation(relation_entry(("a:b", "c d"), weight)) == (("a:b", "c d"), weight)
