"""Every `GraphStore` adapter behaves the same: same merges, same reach, same filtering, same
ranking, same deletes.

Flavours: `embedded` (Ladybug in a temporary folder) and `neo4j` (a real server at $NEO4J_URI,
skipped when unset). Ids, keys and document numbers are namespaced per test, so a shared Neo4j
keeps its other data and counts are compared as differences.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ladybug
import pytest

from kb.stores.errors import StoreError, StoreLockedError
from kb.stores.graph_embedded import DATABASE_NAME, EmbeddedGraphStore
from kb.stores.graph_neo4j import Neo4jGraphStore
from kb.stores.graph_scoring import path_score, specificity
from kb.stores.graph_traversal import TraversalLimits
from kb.stores.types import AccessScope, GraphChunk, GraphEntity, GraphHit, GraphRelation
from tests.support.paths import ROOT

pytestmark = pytest.mark.integration

GROUP_1 = ("group:1",)
GROUP_2 = ("group:2",)
OLD_SCHEMA = (
    "CREATE NODE TABLE Chunk("
    "id STRING PRIMARY KEY, document_id INT64, collection_id INT64, acl STRING[])",
    "CREATE NODE TABLE Entity(key STRING PRIMARY KEY, name STRING, type STRING)",
    "CREATE REL TABLE MENTIONS(FROM Chunk TO Entity)",
    "CREATE REL TABLE RELATED("
    "FROM Entity TO Entity, weight DOUBLE, chunk_ids STRING[], chunk_weights DOUBLE[])",
)


# ---------------------------------------------------------------------------- helpers


@dataclass
class GraphUnderTest:
    """A store plus the namespace of one test: `key("a")`, chunk "x" and document 1 are
    unique to the test, and hits are reported back by their short names."""

    store: EmbeddedGraphStore | Neo4jGraphStore
    prefix: str
    base: int

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def doc(self, n: int) -> int:
        return self.base + n

    def collection(self, n: int) -> int:
        return self.base + n

    def scope(self, acl: Sequence[str] = GROUP_1, collections: Sequence[int] = (1,)) -> AccessScope:
        return AccessScope(collection_ids=[self.collection(n) for n in collections], acl=list(acl))

    def chunk(
        self,
        name: str,
        *,
        mentions: Sequence[str] = (),
        relations: Sequence[tuple[str, str, float]] = (),
        doc: int = 1,
        collection: int = 1,
        acl: Sequence[str] = GROUP_1,
        names: dict[str, str] | None = None,
    ) -> GraphChunk:
        return GraphChunk(
            id=f"{self.prefix}{name}",
            document_id=self.doc(doc),
            collection_id=self.collection(collection),
            acl=list(acl),
            entities=[
                GraphEntity(key=self.key(m), name=(names or {}).get(m, m.title())) for m in mentions
            ],
            relations=[
                GraphRelation(source_key=self.key(s), target_key=self.key(t), weight=w)
                for s, t, w in relations
            ],
        )

    def hits(
        self,
        *seeds: str,
        hops: int = 1,
        scope: AccessScope | None = None,
        limit: int = 50,
    ) -> list[GraphHit]:
        return self.store.neighbourhood(
            entity_keys=[self.key(s) for s in seeds],
            scope=scope if scope is not None else self.scope(),
            hops=hops,
            limit=limit,
        )

    def reached(self, *seeds: str, hops: int = 1, scope: AccessScope | None = None) -> set[str]:
        return {self.short(hit.chunk_id) for hit in self.hits(*seeds, hops=hops, scope=scope)}

    def ranked(self, *seeds: str, hops: int = 1, limit: int = 50) -> list[str]:
        return [self.short(hit.chunk_id) for hit in self.hits(*seeds, hops=hops, limit=limit)]

    def short(self, chunk_id: str) -> str:
        return chunk_id.removeprefix(self.prefix)

    def relations(self) -> dict[tuple[str, str], tuple[float, int]]:
        """The test's Relation aggregates: (short source, short target) -> (weight, support)."""
        query = (
            "MATCH (r:Relation) WHERE r.source STARTS WITH $prefix "
            "RETURN r.source, r.target, r.weight, r.support"
        )
        parameters = {"prefix": self.prefix}
        if isinstance(self.store, EmbeddedGraphStore):
            rows: Sequence[Sequence[Any]] = self.store._run(query, parameters)
        else:
            rows = self.store._driver.execute_query(
                query, parameters, database_=self.store.database
            )[0]
        return {
            (self.short(source), self.short(target)): (float(weight), int(support))
            for source, target, weight, support in rows
        }

    def score(self, weights: Sequence[float], *, mentions: Sequence[int]) -> float:
        """One path's score over edges of `weights`, through entities mentioned by `mentions`
        chunks each (seed first), in the store as it is now."""
        total = self.store.count_chunks()
        return path_score(weights, specificity=math.prod(specificity(m, total) for m in mentions))


def chain(g: GraphUnderTest) -> list[GraphChunk]:
    """a - b - c - d, each relation supported by a chunk mentioning both ends, plus one chunk
    mentioning each of b, c, d alone. From seed a: hop 0 = {ab}; hop 1 adds {bc, only_b};
    hop 2 adds {cd, only_c}; only_d is three steps away."""
    return [
        g.chunk("ab", mentions=["a", "b"], relations=[("a", "b", 1.0)]),
        g.chunk("bc", mentions=["b", "c"], relations=[("c", "b", 1.0)]),
        g.chunk("cd", mentions=["c", "d"], relations=[("c", "d", 1.0)]),
        g.chunk("only_b", mentions=["b"]),
        g.chunk("only_c", mentions=["c"]),
        g.chunk("only_d", mentions=["d"]),
    ]


# ---------------------------------------------------------------------------- fixtures


def _neo4j_store() -> Neo4jGraphStore:
    return Neo4jGraphStore(
        os.environ["NEO4J_URI"],
        os.environ.get("NEO4J_USER", "neo4j"),
        os.environ.get("NEO4J_PASSWORD", ""),
        database=os.environ.get("NEO4J_DATABASE") or None,
    )


def _wipe_neo4j_namespace(store: Neo4jGraphStore, prefix: str) -> None:
    store._driver.execute_query(
        "MATCH (n) WHERE (n:Chunk AND n.id STARTS WITH $prefix) "
        "OR (n:Entity AND n.key STARTS WITH $prefix) DETACH DELETE n",
        {"prefix": prefix},
        database_=store.database,
    )


@pytest.fixture(params=["embedded", "neo4j"])
def graph(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphUnderTest]:
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    base = random.randrange(10**12, 2 * 10**12, 1000)
    if request.param == "embedded":
        embedded = EmbeddedGraphStore(tmp_path / "graph")
        yield GraphUnderTest(store=embedded, prefix=prefix, base=base)
        embedded.close()
        return
    if not os.environ.get("NEO4J_URI"):
        pytest.skip("NEO4J_URI not set")
    server = _neo4j_store()
    try:
        yield GraphUnderTest(store=server, prefix=prefix, base=base)
    finally:
        _wipe_neo4j_namespace(server, prefix)
        server.close()


# ---------------------------------------------------------------------------- writes


def test_entities_merge_by_key_across_chunks(graph: GraphUnderTest) -> None:
    # given
    before = graph.store.count_entities()
    # when: two chunks name the same entity differently, one also names another
    graph.store.upsert_chunks(
        [
            graph.chunk("c1", mentions=["pg"], names={"pg": "PostgreSQL"}),
            graph.chunk("c2", mentions=["pg", "redis"], names={"pg": "Postgres"}),
        ]
    )
    # then: one entity per key, and both chunks hang off it
    assert graph.store.count_entities() - before == 2
    assert graph.reached("pg", hops=1) == {"c1", "c2"}


def test_relation_ends_count_as_mentions_of_the_supporting_chunk(graph: GraphUnderTest) -> None:
    # given / when: the relation names an entity the chunk did not list
    graph.store.upsert_chunks([graph.chunk("c1", mentions=["a"], relations=[("a", "ghost", 1.0)])])
    # then
    assert graph.reached("ghost", hops=1) == {"c1"}


def test_reupserting_the_same_chunks_changes_nothing(graph: GraphUnderTest) -> None:
    # given
    graph.store.upsert_chunks(chain(graph))
    chunks = graph.store.count_chunks()
    entities = graph.store.count_entities()
    before = graph.hits("a", hops=2)
    # when: a retried task writes the same chunks again
    graph.store.upsert_chunks(chain(graph))
    # then: same counts, and same scores (edge weights were not added twice)
    assert graph.store.count_chunks() == chunks
    assert graph.store.count_entities() == entities
    assert graph.hits("a", hops=2) == before


def test_relation_weight_grows_per_distinct_supporting_chunk(graph: GraphUnderTest) -> None:
    # given: a - b supported once, then by a second chunk (stated in the other direction)
    graph.store.upsert_chunks(
        [
            graph.chunk("ab1", mentions=["a", "b"], relations=[("a", "b", 1.0)]),
            graph.chunk("only_b", mentions=["b"]),
        ]
    )
    # when
    graph.store.upsert_chunks(
        [graph.chunk("ab2", mentions=["a", "b"], relations=[("b", "a", 2.0)])]
    )
    # then: one edge of weight 3 leads from a (2 mentions) to only_b (b: 3 mentions)
    [hit] = [h for h in graph.hits("a", hops=1) if graph.short(h.chunk_id) == "only_b"]
    assert hit.score == pytest.approx(graph.score([3.0], mentions=[2, 3]))


def test_one_batch_with_many_chunks_supporting_one_edge_adds_each_once(
    graph: GraphUnderTest,
) -> None:
    # given: three chunks of one batch support a - b (one of them twice over), written together
    batch = [
        graph.chunk("ab1", mentions=["a", "b"], relations=[("a", "b", 1.0)]),
        graph.chunk("ab2", mentions=["a", "b"], relations=[("b", "a", 2.0), ("a", "b", 5.0)]),
        graph.chunk("ab3", mentions=["a", "b"], relations=[("a", "b", 4.0)]),
        graph.chunk("only_b", mentions=["b"]),
    ]
    # when: written once, then the same batch again (a retried task)
    graph.store.upsert_chunks(batch)
    graph.store.upsert_chunks(batch)
    # then: each chunk counted once, with the first weight it stated for the pair: 1 + 2 + 4
    [hit] = [h for h in graph.hits("a", hops=1) if graph.short(h.chunk_id) == "only_b"]
    assert hit.score == pytest.approx(graph.score([7.0], mentions=[3, 4]))


def test_count_chunks_by_document(graph: GraphUnderTest) -> None:
    # given
    graph.store.upsert_chunks(
        [
            graph.chunk("c1", mentions=["a"], doc=1),
            graph.chunk("c2", mentions=["a"], doc=2),
            graph.chunk("c3", mentions=["b"], doc=2),
        ]
    )
    # when / then
    assert graph.store.count_chunks(document_id=graph.doc(1)) == 1
    assert graph.store.count_chunks(document_id=graph.doc(2)) == 2
    assert graph.store.count_chunks(document_id=graph.doc(3)) == 0


# ---------------------------------------------------------------------------- reach


def test_hop_zero_reaches_direct_mentions_only(graph: GraphUnderTest) -> None:
    # given
    graph.store.upsert_chunks(chain(graph))
    # when / then
    assert graph.reached("a", hops=0) == {"ab"}


def test_hop_one_reaches_chunks_of_related_entities_but_not_further(
    graph: GraphUnderTest,
) -> None:
    # given
    graph.store.upsert_chunks(chain(graph))
    # when
    reached = graph.reached("a", hops=1)
    # then
    assert reached == {"ab", "bc", "only_b"}
    assert "only_c" not in reached
    assert "cd" not in reached


def test_hop_two_reaches_one_more_step(graph: GraphUnderTest) -> None:
    # given
    graph.store.upsert_chunks(chain(graph))
    # when / then: only_d is three steps away
    assert graph.reached("a", hops=2) == {"ab", "bc", "only_b", "cd", "only_c"}


def test_relations_are_followed_in_both_directions(graph: GraphUnderTest) -> None:
    # given
    graph.store.upsert_chunks(chain(graph))
    # when / then: from d, back along c - d and b - c
    assert graph.reached("d", hops=2) == {"cd", "only_d", "bc", "only_c", "only_b", "ab"}


def test_unknown_seed_keys_are_ignored(graph: GraphUnderTest) -> None:
    # given
    graph.store.upsert_chunks(chain(graph))
    # when / then
    assert graph.reached("nowhere", "a", hops=0) == {"ab"}
    assert graph.hits("nowhere", hops=2) == []


def test_hops_outside_zero_to_two_are_rejected(graph: GraphUnderTest) -> None:
    with pytest.raises(ValueError, match="hops"):
        graph.hits("a", hops=3)


# ---------------------------------------------------------------------------- filtering


def test_acl_filter_never_returns_a_chunk_of_another_group(graph: GraphUnderTest) -> None:
    # given: the only direct mention of x belongs to group:2
    graph.store.upsert_chunks([graph.chunk("secret", mentions=["x"], acl=GROUP_2)])
    # when / then
    assert graph.hits("x", hops=2, scope=graph.scope(GROUP_1)) == []
    assert graph.reached("x", hops=2, scope=graph.scope(GROUP_2)) == {"secret"}


def test_acl_filter_applies_to_chunks_reached_through_relations(graph: GraphUnderTest) -> None:
    # given: a - b supported by a public chunk; b is mentioned by a secret chunk too
    graph.store.upsert_chunks(
        [
            graph.chunk("ab", mentions=["a", "b"], relations=[("a", "b", 1.0)]),
            graph.chunk("secret_b", mentions=["b"], acl=GROUP_2),
        ]
    )
    # when / then
    assert graph.reached("a", hops=2, scope=graph.scope(GROUP_1)) == {"ab"}


def _scored(hits: Sequence[GraphHit]) -> list[tuple[str, float, tuple[str, ...]]]:
    return [(hit.chunk_id, hit.score, tuple(hit.entity_keys)) for hit in hits]


def test_chunks_outside_the_scope_change_no_graph_score(graph: GraphUnderTest) -> None:
    # given: readable chunks about a, b and their neighbour c (issue 11, ranking oracle)
    graph.store.upsert_chunks(
        [
            graph.chunk("a1", mentions=["a"]),
            graph.chunk("b1", mentions=["b"]),
            graph.chunk("ac", mentions=["a", "c"], relations=[("a", "c", 1.0)]),
            graph.chunk("c1", mentions=["c"]),
        ]
    )
    before = _scored(graph.hits("a", "b", hops=1))
    # when: chunks the caller may not read (other group, other collection) mention a and c,
    # enough of them to make both "too common" if they counted
    graph.store.upsert_chunks(
        [graph.chunk(f"hidden{n}", mentions=["a", "c"], doc=2, acl=GROUP_2) for n in range(40)]
        + [graph.chunk(f"away{n}", mentions=["a", "c"], doc=3, collection=2) for n in range(40)]
    )
    after = _scored(graph.hits("a", "b", hops=1))
    # then: the same chunks, order, scores and entity keys
    assert after == before
    assert {graph.short(chunk_id) for chunk_id, _, _ in after} == {"a1", "b1", "ac", "c1"}


def test_acl_filter_matches_any_shared_entry(graph: GraphUnderTest) -> None:
    # given
    graph.store.upsert_chunks([graph.chunk("shared", mentions=["x"], acl=["group:2", "group:3"])])
    # when / then
    assert graph.reached("x", scope=graph.scope(["group:1", "group:3"])) == {"shared"}


def test_relation_supported_only_by_unreadable_chunks_is_not_followed(
    graph: GraphUnderTest,
) -> None:
    # given: only a group:2 chunk says that a relates to b
    graph.store.upsert_chunks(
        [
            graph.chunk("secret_ab", mentions=["a", "b"], relations=[("a", "b", 1.0)], acl=GROUP_2),
            graph.chunk("only_a", mentions=["a"]),
            graph.chunk("only_b", mentions=["b"]),
        ]
    )
    # when / then: group:1 does not learn the relation; group:2 does
    assert graph.reached("a", hops=2, scope=graph.scope(GROUP_1)) == {"only_a"}
    assert "only_b" in graph.reached("a", hops=1, scope=graph.scope(["group:1", "group:2"]))


def test_collection_filter_never_returns_a_chunk_of_an_unlisted_collection(
    graph: GraphUnderTest,
) -> None:
    # given
    graph.store.upsert_chunks(
        [
            graph.chunk("in_1", mentions=["x"], collection=1),
            graph.chunk("in_2", mentions=["x"], collection=2),
        ]
    )
    # when / then
    assert graph.reached("x", scope=graph.scope(collections=[1])) == {"in_1"}
    assert graph.reached("x", scope=graph.scope(collections=[1, 2])) == {"in_1", "in_2"}


@pytest.mark.parametrize("empty", ["no collections", "no acl"])
def test_empty_scope_returns_nothing(graph: GraphUnderTest, empty: str) -> None:
    # given
    graph.store.upsert_chunks(chain(graph))
    scope = graph.scope(collections=[]) if empty == "no collections" else graph.scope(acl=[])
    # when / then
    assert graph.hits("a", hops=2, scope=scope) == []


def test_set_acl_changes_visibility(graph: GraphUnderTest) -> None:
    # given: document 1 readable by group:1
    graph.store.upsert_chunks(
        [graph.chunk("c1", mentions=["x"], doc=1), graph.chunk("c2", mentions=["x"], doc=2)]
    )
    # when
    graph.store.set_acl(document_id=graph.doc(1), acl=list(GROUP_2))
    # then
    assert graph.reached("x", scope=graph.scope(GROUP_1)) == {"c2"}
    assert graph.reached("x", scope=graph.scope(GROUP_2)) == {"c1"}


# ---------------------------------------------------------------------------- ranking


def test_chunk_mentioning_two_seeds_ranks_above_chunk_mentioning_one(
    graph: GraphUnderTest,
) -> None:
    # given
    graph.store.upsert_chunks(
        [
            graph.chunk("one", mentions=["x"]),
            graph.chunk("both", mentions=["x", "y"]),
        ]
    )
    # when / then
    assert graph.ranked("x", "y", hops=1) == ["both", "one"]


def test_direct_mention_ranks_above_neighbours(graph: GraphUnderTest) -> None:
    # given
    graph.store.upsert_chunks(chain(graph))
    # when
    ranked = graph.ranked("a", hops=2)
    # then: the ab chunk first, hop-2 chunks last
    assert ranked[0] == "ab"
    assert set(ranked[-2:]) == {"cd", "only_c"}


def test_walking_back_to_the_seed_is_not_a_path(graph: GraphUnderTest) -> None:
    # given
    graph.store.upsert_chunks(chain(graph))
    # when: a -> b -> a would be a second hop back onto a's own chunk
    one_hop = {graph.short(h.chunk_id): h.score for h in graph.hits("a", hops=1)}
    two_hops = {graph.short(h.chunk_id): h.score for h in graph.hits("a", hops=2)}
    # then: ab is scored by its direct mention and its one-hop path only (a: 1, b: 3 mentions)
    direct, via_b = graph.score([], mentions=[1]), graph.score([1.0], mentions=[1, 3])
    assert one_hop["ab"] == pytest.approx(direct + via_b)
    assert two_hops["ab"] == pytest.approx(one_hop["ab"])


def test_hits_carry_scores_document_and_the_keys_that_led_there(graph: GraphUnderTest) -> None:
    # given
    graph.store.upsert_chunks(chain(graph))
    # when
    hits = {graph.short(h.chunk_id): h for h in graph.hits("a", hops=2)}
    # then
    assert hits["only_b"].document_id == graph.doc(1)
    assert hits["only_b"].score == pytest.approx(graph.score([1.0], mentions=[1, 3]))
    assert list(hits["only_b"].entity_keys) == [graph.key("a"), graph.key("b")]
    assert list(hits["only_c"].entity_keys) == [graph.key("a"), graph.key("b"), graph.key("c")]
    scores = [h.score for h in graph.hits("a", hops=2)]
    assert scores == sorted(scores, reverse=True)


def test_limit_keeps_the_best_hits(graph: GraphUnderTest) -> None:
    # given
    graph.store.upsert_chunks(chain(graph))
    # when / then
    assert graph.ranked("a", hops=2, limit=1) == ["ab"]
    assert graph.hits("a", hops=2, limit=0) == []


# ---------------------------------------------------------------------------- bounded traversal


def small_caps(
    g: GraphUnderTest, *, common: int = 2, neighbours: int = 8, chunks: int = 200
) -> None:
    """An entity mentioned by more than `common` chunks is too common to expand."""
    g.store.limits = TraversalLimits(
        common_share=0.0,
        min_common=common,
        max_common=common,
        neighbours=neighbours,
        chunks=chunks,
    )


def test_rare_seed_ranks_its_chunks_above_a_common_seeds(graph: GraphUnderTest) -> None:
    # given: x is mentioned once, y by three chunks
    graph.store.upsert_chunks(
        [
            graph.chunk("y1", mentions=["y"]),
            graph.chunk("rare", mentions=["x"]),
            graph.chunk("y2", mentions=["y"]),
            graph.chunk("y3", mentions=["y"]),
        ]
    )
    # when
    hits = graph.hits("y", "x", hops=0)
    # then
    assert graph.short(hits[0].chunk_id) == "rare"
    assert hits[0].score > hits[1].score


def test_too_common_seed_is_not_expanded(graph: GraphUnderTest) -> None:
    # given: hub is mentioned by three chunks, one of them relating it to c; a by one, related
    # to b the same way
    small_caps(graph)
    graph.store.upsert_chunks(
        [
            graph.chunk("hub_c", mentions=["hub", "c"], relations=[("hub", "c", 1.0)]),
            graph.chunk("hub_1", mentions=["hub"]),
            graph.chunk("hub_2", mentions=["hub"]),
            graph.chunk("only_c", mentions=["c"]),
            graph.chunk("ab", mentions=["a", "b"], relations=[("a", "b", 1.0)]),
            graph.chunk("only_b", mentions=["b"]),
        ]
    )
    # when / then: the hub's own chunks count, its neighbours are not reached
    assert graph.reached("hub", hops=2) == {"hub_c", "hub_1", "hub_2"}
    assert graph.reached("a", hops=1) == {"ab", "only_b"}


def test_too_common_neighbour_is_not_expanded(graph: GraphUnderTest) -> None:
    # given: a relates to hub (three mentions) and to b (two)
    small_caps(graph)
    graph.store.upsert_chunks(
        [
            graph.chunk("a_hub", mentions=["a", "hub"], relations=[("a", "hub", 5.0)]),
            graph.chunk("hub_1", mentions=["hub"]),
            graph.chunk("hub_2", mentions=["hub"]),
            graph.chunk("a_b", mentions=["a", "b"], relations=[("a", "b", 1.0)]),
            graph.chunk("only_b", mentions=["b"]),
        ]
    )
    # when
    reached = graph.reached("a", hops=2)
    # then
    assert reached == {"a_hub", "a_b", "only_b"}


def test_only_the_strongest_neighbours_are_expanded(graph: GraphUnderTest) -> None:
    # given: a - b (weight 2) and a - c (weight 1), one neighbour per entity
    small_caps(graph, common=50, neighbours=1)
    graph.store.upsert_chunks(
        [
            graph.chunk("ab", mentions=["a", "b"], relations=[("a", "b", 2.0)]),
            graph.chunk("ac", mentions=["a", "c"], relations=[("a", "c", 1.0)]),
            graph.chunk("only_b", mentions=["b"]),
            graph.chunk("only_c", mentions=["c"]),
        ]
    )
    # when / then
    assert graph.reached("a", hops=1) == {"ab", "ac", "only_b"}


def test_neighbour_weights_count_readable_support_only(graph: GraphUnderTest) -> None:
    # given: a - b is strong only through a group:2 chunk; a - c is supported publicly
    small_caps(graph, common=50, neighbours=1)
    graph.store.upsert_chunks(
        [
            graph.chunk("ab", mentions=["a", "b"], relations=[("a", "b", 1.0)]),
            graph.chunk("secret_ab", mentions=["a", "b"], relations=[("a", "b", 9.0)], acl=GROUP_2),
            graph.chunk("ac", mentions=["a", "c"], relations=[("a", "c", 2.0)]),
            graph.chunk("only_b", mentions=["b"]),
            graph.chunk("only_c", mentions=["c"]),
        ]
    )
    # when / then: group:1 follows its own strongest edge; both groups follow a - b
    assert graph.reached("a", hops=1) == {"ab", "ac", "only_c"}
    both = graph.scope(["group:1", "group:2"])
    assert graph.reached("a", hops=1, scope=both) == {"ab", "secret_ab", "ac", "only_b"}


def test_each_hop_returns_only_its_best_chunks(graph: GraphUnderTest) -> None:
    # given: five chunks mention x, one of them y too
    small_caps(graph, common=50, chunks=2)
    graph.store.upsert_chunks([graph.chunk(f"x{n}", mentions=["x"]) for n in range(4)])
    graph.store.upsert_chunks([graph.chunk("xy", mentions=["x", "y"])])
    # when / then: the chunk naming both seeds is among the two read
    assert len(graph.hits("x", hops=0)) == 2
    assert graph.short(graph.hits("x", "y", hops=0)[0].chunk_id) == "xy"


def test_rewriting_a_chunk_replaces_its_support_and_mentions(graph: GraphUnderTest) -> None:
    # given: c1 says a - b; b is mentioned by probe too, old by c1 alone
    entities = graph.store.count_entities()
    graph.store.upsert_chunks(
        [
            graph.chunk("c1", mentions=["a", "b", "old"], relations=[("a", "b", 1.0)]),
            graph.chunk("probe", mentions=["b"]),
            graph.chunk("only_c", mentions=["c"]),
        ]
    )
    # when: a new version of c1 (same id) says a - c instead
    graph.store.upsert_chunks([graph.chunk("c1", mentions=["a", "c"], relations=[("a", "c", 2.0)])])
    # then: a - b is gone, a - c has c1's weight, old is orphaned and deleted
    assert graph.reached("a", hops=1) == {"c1", "only_c"}
    assert graph.reached("old", hops=0) == set()
    assert graph.store.count_entities() - entities == 3
    [hit] = [h for h in graph.hits("a", hops=1) if graph.short(h.chunk_id) == "only_c"]
    assert hit.score == pytest.approx(graph.score([2.0], mentions=[1, 2]))


# ---------------------------------------------------------------------------- deletes


def test_delete_document_removes_its_chunks_and_orphaned_entities(graph: GraphUnderTest) -> None:
    # given: entity `solo` is mentioned by document 1 only, `a` by both documents
    entities = graph.store.count_entities()
    graph.store.upsert_chunks(
        [
            graph.chunk("d1", mentions=["a", "solo"], doc=1),
            graph.chunk("d2", mentions=["a"], doc=2),
        ]
    )
    # when
    graph.store.delete_document(graph.doc(1))
    # then
    assert graph.store.count_chunks(document_id=graph.doc(1)) == 0
    assert graph.store.count_chunks(document_id=graph.doc(2)) == 1
    assert graph.store.count_entities() - entities == 1
    assert graph.reached("a") == {"d2"}
    assert graph.hits("solo") == []


def test_delete_document_removes_only_its_own_relation_support(graph: GraphUnderTest) -> None:
    # given: a - b supported by document 1 (weight 2) and document 2 (weight 1)
    graph.store.upsert_chunks(
        [
            graph.chunk("ab1", mentions=["a", "b"], relations=[("a", "b", 2.0)], doc=1),
            graph.chunk("ab2", mentions=["a", "b"], relations=[("b", "a", 1.0)], doc=2),
            graph.chunk("only_b", mentions=["b"], doc=3),
        ]
    )
    # when
    graph.store.delete_document(graph.doc(1))
    # then: the edge survives with document 2's weight only
    [hit] = [h for h in graph.hits("a", hops=1) if graph.short(h.chunk_id) == "only_b"]
    assert hit.score == pytest.approx(graph.score([1.0], mentions=[1, 2]))


def test_relation_left_without_support_is_deleted(graph: GraphUnderTest) -> None:
    # given: a - b supported by document 1 only; a and b stay mentioned by document 2
    graph.store.upsert_chunks(
        [
            graph.chunk("ab", mentions=["a", "b"], relations=[("a", "b", 1.0)], doc=1),
            graph.chunk("only_a", mentions=["a"], doc=2),
            graph.chunk("only_b", mentions=["b"], doc=2),
        ]
    )
    # when
    graph.store.delete_document(graph.doc(1))
    # then
    assert graph.reached("a", hops=2) == {"only_a"}


def test_delete_unknown_document_is_a_no_op(graph: GraphUnderTest) -> None:
    # given
    graph.store.upsert_chunks(chain(graph))
    chunks = graph.store.count_chunks()
    # when
    graph.store.delete_document(graph.doc(99))
    # then
    assert graph.store.count_chunks() == chunks


def test_document_can_be_written_again_after_delete(graph: GraphUnderTest) -> None:
    # given
    graph.store.upsert_chunks(chain(graph))
    before = graph.hits("a", hops=2)
    graph.store.delete_document(graph.doc(1))
    # when
    graph.store.upsert_chunks(chain(graph))
    # then
    assert graph.hits("a", hops=2) == before


def two_versions(g: GraphUnderTest) -> None:
    """Document 1, version 1: v1-a (a - b, 1) and v1-b (a - b, 2; b - c, 1); then version 2:
    v2-a (a - b, 4). Document 2: `other` (a - x, 3) and probes mentioning b and x alone."""
    g.store.upsert_chunks(
        [
            g.chunk("other", mentions=["a", "x"], relations=[("a", "x", 3.0)], doc=2),
            g.chunk("probe_b", mentions=["b"], doc=2),
            g.chunk("probe_x", mentions=["x"], doc=2),
        ]
    )
    g.store.upsert_chunks(
        [
            g.chunk("v1-a", mentions=["a", "b"], relations=[("a", "b", 1.0)]),
            g.chunk("v1-b", mentions=["a", "b", "c"], relations=[("a", "b", 2.0), ("b", "c", 1.0)]),
        ]
    )
    g.store.upsert_chunks([g.chunk("v2-a", mentions=["a", "b"], relations=[("b", "a", 4.0)])])


def keep_v2(g: GraphUnderTest) -> None:
    g.store.delete_stale_chunks(document_id=g.doc(1), keep_chunk_ids=[g.chunk("v2-a").id])


def one_hop_score(g: GraphUnderTest, seed: str, probe: str) -> float:
    [hit] = [h for h in g.hits(seed, hops=1) if g.short(h.chunk_id) == probe]
    return hit.score


def snapshot(g: GraphUnderTest) -> tuple[int, int, list[list[GraphHit]]]:
    hits = [g.hits(seed, hops=2) for seed in ("a", "b", "c", "x")]
    return g.store.count_chunks(), g.store.count_entities(), hits


def test_delete_stale_chunks_keeps_only_the_listed_chunks(graph: GraphUnderTest) -> None:
    # given
    entities = graph.store.count_entities()
    two_versions(graph)
    assert one_hop_score(graph, "a", "probe_b") == pytest.approx(
        graph.score([7.0], mentions=[4, 4])
    )
    # when
    keep_v2(graph)
    # then: only v2-a is left of document 1, and c (mentioned by v1-b alone) is gone
    assert graph.store.count_chunks(document_id=graph.doc(1)) == 1
    assert graph.reached("a", hops=0) == {"v2-a", "other"}
    assert graph.store.count_entities() - entities == 3
    assert graph.hits("c", hops=2) == []
    # then: a - b keeps v2-a's weight only; b - c is gone
    assert one_hop_score(graph, "a", "probe_b") == pytest.approx(
        graph.score([4.0], mentions=[2, 2])
    )
    assert graph.reached("b", hops=1) == {"v2-a", "probe_b", "other"}


def test_relation_aggregates_follow_writes_retries_and_deletes(graph: GraphUnderTest) -> None:
    # given: the two versions of document 1, each batch written twice (retried tasks)
    two_versions(graph)
    two_versions(graph)
    assert graph.relations() == {("a", "b"): (7.0, 3), ("b", "c"): (1.0, 1), ("a", "x"): (3.0, 1)}
    # when
    keep_v2(graph)
    # then: exactly v1's support is gone, and b - c with it
    assert graph.relations() == {("a", "b"): (4.0, 1), ("a", "x"): (3.0, 1)}
    # when
    graph.store.delete_document(graph.doc(1))
    graph.store.delete_document(graph.doc(2))
    # then
    assert graph.relations() == {}


def test_delete_stale_chunks_leaves_other_documents_untouched(graph: GraphUnderTest) -> None:
    # given
    two_versions(graph)
    # when
    keep_v2(graph)
    # then: document 2's chunks and its a - x support are as written
    assert graph.store.count_chunks(document_id=graph.doc(2)) == 3
    assert one_hop_score(graph, "a", "probe_x") == pytest.approx(
        graph.score([3.0], mentions=[2, 2])
    )
    assert graph.reached("x", hops=0) == {"other", "probe_x"}


def test_delete_stale_chunks_deletes_an_unsupported_relation_whose_ends_remain(
    graph: GraphUnderTest,
) -> None:
    # given: c stays mentioned by document 3, so only the b - c edge can stop the walk
    two_versions(graph)
    graph.store.upsert_chunks([graph.chunk("probe_c", mentions=["c"], doc=3)])
    assert "probe_c" in graph.reached("b", hops=1)
    # when
    keep_v2(graph)
    # then
    assert "probe_c" not in graph.reached("b", hops=1)
    assert graph.reached("c", hops=0) == {"probe_c"}


def test_delete_stale_chunks_twice_is_a_no_op(graph: GraphUnderTest) -> None:
    # given
    two_versions(graph)
    keep_v2(graph)
    before = snapshot(graph)
    # when
    keep_v2(graph)
    # then
    assert snapshot(graph) == before


def test_delete_stale_chunks_of_unknown_document_is_a_no_op(graph: GraphUnderTest) -> None:
    # given
    two_versions(graph)
    before = snapshot(graph)
    # when
    graph.store.delete_stale_chunks(document_id=graph.doc(99), keep_chunk_ids=[])
    # then
    assert snapshot(graph) == before


def test_delete_stale_chunks_with_empty_keep_list_is_delete_document(
    graph: GraphUnderTest,
) -> None:
    # given: the state delete_document leaves
    two_versions(graph)
    graph.store.delete_document(graph.doc(1))
    expected = snapshot(graph)
    two_versions(graph)
    # when
    graph.store.delete_stale_chunks(document_id=graph.doc(1), keep_chunk_ids=[])
    # then
    assert graph.store.count_chunks(document_id=graph.doc(1)) == 0
    assert snapshot(graph) == expected


# ---------------------------------------------------------------------------- embedded only


def test_embedded_data_persists_across_close_and_reopen(tmp_path: Path) -> None:
    # given
    folder = tmp_path / "graph"
    first = EmbeddedGraphStore(folder)
    g = GraphUnderTest(store=first, prefix="", base=0)
    first.upsert_chunks(chain(g))
    before = g.hits("a", hops=2)
    first.close()
    # when
    second = EmbeddedGraphStore(folder)
    try:
        # then
        g.store = second
        assert second.count_chunks() == len(chain(g))
        assert g.hits("a", hops=2) == before
    finally:
        second.close()


def test_embedded_store_of_an_older_layout_asks_to_reindex(tmp_path: Path) -> None:
    # given: a graph written with RELATED edges carrying chunk id lists
    folder = tmp_path / "graph"
    folder.mkdir()
    database = ladybug.Database(folder / DATABASE_NAME)
    connection = ladybug.Connection(database)
    for statement in OLD_SCHEMA:
        connection.execute(statement)
    connection.close()
    database.close()
    # when / then: a clear error, and the folder is not left locked
    with pytest.raises(StoreError, match="ingest the documents again"):
        EmbeddedGraphStore(folder)
    shutil.rmtree(folder)
    EmbeddedGraphStore(folder).close()


def test_embedded_second_open_in_the_same_process_raises_store_locked(tmp_path: Path) -> None:
    # given: flock belongs to an open file, so a second open in one process conflicts too
    folder = tmp_path / "graph"
    first = EmbeddedGraphStore(folder)
    try:
        # when / then
        with pytest.raises(StoreLockedError, match=r"embedded graph store .* is in use"):
            EmbeddedGraphStore(folder)
        assert first.count_chunks() == 0
    finally:
        first.close()


def test_embedded_second_open_from_another_process_raises_store_locked(tmp_path: Path) -> None:
    # given
    folder = tmp_path / "graph"
    first = EmbeddedGraphStore(folder)
    attempt = (
        "import sys\n"
        "from pathlib import Path\n"
        "from kb.stores.errors import StoreLockedError\n"
        "from kb.stores.graph_embedded import EmbeddedGraphStore\n"
        "try:\n"
        "    EmbeddedGraphStore(Path(sys.argv[1]))\n"
        "except StoreLockedError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(3)\n"
    )
    try:
        # when
        child = subprocess.run(
            [sys.executable, "-c", attempt, str(folder)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        first.close()
    # then: refused, naming this process as the holder
    assert child.returncode == 3, child.stderr
    assert str(os.getpid()) in child.stdout


def test_embedded_folder_can_be_reopened_after_close(tmp_path: Path) -> None:
    # given
    folder = tmp_path / "graph"
    EmbeddedGraphStore(folder).close()
    # when / then
    EmbeddedGraphStore(folder).close()


# ---------------------------------------------------------------------------- neo4j only


def test_neo4j_unreachable_raises_store_error_naming_the_uri() -> None:
    # given: nothing listens on port 1
    uri = "bolt://127.0.0.1:1"
    # when / then
    with pytest.raises(StoreError, match=r"Neo4j at bolt://127\.0\.0\.1:1 is unreachable"):
        Neo4jGraphStore(uri, "neo4j", "secret")
