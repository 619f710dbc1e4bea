"""The neighbourhood of a question's entities: a few small queries driven from Python, shared by
both graph adapters (they differ only in the ACL predicate).

Why not one big path query: common entities ("postgresql", "debian", "package") are related to
almost everything, so a pattern over every path from a seed to every chunk mentioning any
neighbour grows with the whole graph (at 10k chunks it did not finish in 5 s). Instead:

1. hop 0: chunks mentioning a seed, best first by specificity;
2. per hop: for each frontier entity that is not too common, the weight each neighbour gets
   from the *readable* chunks mentioning the entity (their own `relations` lists: a step is
   taken only if a chunk the caller may read supports it, and forbidden chunks add no weight);
   the `neighbours` strongest that are not too common; the `frontier` best paths overall;
3. chunks mentioning the paths' ends, readable, best first.

Chunks are scored per hop inside the query (the sum of the scores of the paths ending on the
entities they mention) and only each hop's best `chunks` are returned: a common seed's
thousands of chunks are ranked by the engine, not moved into Python.

Every expansion touches at most a bounded number of entities, each mentioned by at most
`max_common` chunks. Mention counts and the chunk total are the caller's: only readable chunks
are counted (like the sparse path's IDF, issue 11), so chunks the caller cannot read change
neither a score nor which entities count as too common. The stored `e.mentions` (all chunks)
is not used for ranking; counting readable mentions costs a pass over each looked-up entity's
mentions and, once per search, over the readable chunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kb.stores.graph_cypher import AclPredicate, Runner, parse_relation
from kb.stores.graph_scoring import PathRow, path_score, rank_paths, specificity
from kb.stores.types import AccessScope, GraphHit

MAX_HOPS = 2


@dataclass(frozen=True)
class TraversalLimits:
    """Caps that keep a neighbourhood query bounded. An entity mentioned by more than
    `common_share` of all chunks (but at least `min_common`, and never more than `max_common`)
    is too common to expand; each expanded entity keeps its `neighbours` strongest, each hop its
    `frontier` best paths and its `chunks` best chunks; `rows` caps the support rows read."""

    common_share: float = 0.01
    min_common: int = 50
    max_common: int = 200
    neighbours: int = 8
    frontier: int = 24
    chunks: int = 200
    rows: int = 5000

    def common_cap(self, total_chunks: int) -> int:
        share = int(self.common_share * total_chunks)
        return min(self.max_common, max(self.min_common, share))


@dataclass(frozen=True)
class Path:
    keys: tuple[str, ...]
    weights: tuple[float, ...]
    specificity: float

    @property
    def score(self) -> float:
        return path_score(self.weights, specificity=self.specificity)

    def then(self, key: str, weight: float, specificity: float) -> Path:
        return Path((*self.keys, key), (*self.weights, weight), self.specificity * specificity)


def _readable(chunk: str, acl: AclPredicate) -> str:
    return f"{chunk}.collection_id IN $collection_ids AND {acl(chunk)}"


def readable_chunks_query(acl: AclPredicate) -> str:
    """How many chunks the scope may read: the N of every specificity."""
    return f"MATCH (c:Chunk) WHERE {_readable('c', acl)} RETURN count(c)"


def readable_mentions_query(acl: AclPredicate) -> str:
    """Per entity, how many readable chunks mention it; entities no readable chunk mentions
    are left out, as if they did not exist."""
    return f"""
UNWIND $keys AS entity_key
MATCH (e:Entity {{key: entity_key}})<-[:MENTIONS]-(c:Chunk)
WHERE {_readable("c", acl)}
RETURN e.key, count(c)
"""


def mentioning_chunks_query(acl: AclPredicate) -> str:
    """One row per readable chunk with the given entities it mentions, best first by the sum
    of their scores."""
    return f"""
UNWIND $entities AS entity
MATCH (:Entity {{key: entity.key}})<-[:MENTIONS]-(c:Chunk)
WHERE {_readable("c", acl)}
WITH c, collect(entity.key) AS keys, sum(entity.score) AS score
RETURN c.id, c.document_id, keys, score
ORDER BY score DESC, c.id
LIMIT $chunks
"""


def readable_support_query(acl: AclPredicate) -> str:
    """The relation lists of the readable chunks mentioning each entity."""
    return f"""
UNWIND $keys AS entity_key
MATCH (:Entity {{key: entity_key}})<-[:MENTIONS]-(c:Chunk)
WHERE {_readable("c", acl)} AND size(c.relations) > 0
RETURN entity_key, c.relations
LIMIT $rows
"""


class Traversal:
    """One neighbourhood search: holds the scope's parameters and the mention counts read so
    far. `run` executes one statement (read-only here)."""

    def __init__(
        self, run: Runner, acl: AclPredicate, scope: AccessScope, limits: TraversalLimits
    ) -> None:
        self.run = run
        self.acl = acl
        self.limits = limits
        self.scope = {
            "collection_ids": [int(c) for c in scope.collection_ids],
            "acl": [str(entry) for entry in scope.acl],
            "rows": limits.rows,
            "chunks": limits.chunks,
        }
        self.total = int(run(readable_chunks_query(acl), self.scope)[0][0])
        self.cap = limits.common_cap(self.total)
        self.mentions: dict[str, int] = {}

    def search(self, entity_keys: Sequence[str], *, hops: int, limit: int) -> list[GraphHit]:
        self._read_mentions(entity_keys)
        seeds = [key for key in dict.fromkeys(entity_keys) if self.mentions[key] > 0]
        if not seeds:
            return []
        frontier = [Path((key,), (), self._specificity(key)) for key in seeds]
        rows = self._chunks(frontier)
        frontier = [path for path in frontier if self._expandable(path.keys[-1])]
        for _ in range(hops):
            frontier = self._expand(frontier)
            if not frontier:
                break
            rows += self._chunks(frontier)
        return rank_paths(rows, limit=limit)

    def _expand(self, paths: list[Path]) -> list[Path]:
        """One more step along readable support: per path, its end's strongest neighbours that
        are neither on the path nor too common; then the best `frontier` paths."""
        support = self._readable_support([path.keys[-1] for path in paths])
        self._read_mentions([key for weights in support.values() for key in weights])
        longer = []
        for path in paths:
            neighbours = support.get(path.keys[-1], {})
            ranked = sorted(neighbours.items(), key=lambda item: (-item[1], item[0]))
            chosen = [
                (key, weight)
                for key, weight in ranked
                if key not in path.keys and self._expandable(key)
            ][: self.limits.neighbours]
            longer += [path.then(key, weight, self._specificity(key)) for key, weight in chosen]
        longer.sort(key=lambda path: (-path.score, path.keys))
        return longer[: self.limits.frontier]

    def _readable_support(self, keys: list[str]) -> dict[str, dict[str, float]]:
        """Per entity, each neighbour's weight summed over the readable chunks that support
        the pair."""
        support: dict[str, dict[str, float]] = {}
        parameters = {**self.scope, "keys": list(dict.fromkeys(keys))}
        for key, entries in self.run(readable_support_query(self.acl), parameters):
            neighbours = support.setdefault(str(key), {})
            for (source, target), weight in map(parse_relation, entries):
                other = target if source == key else source if target == key else None
                if other is not None:
                    neighbours[other] = neighbours.get(other, 0.0) + weight
        return support

    def _chunks(self, paths: list[Path]) -> list[PathRow]:
        """One row per path and readable chunk mentioning its end, for the best chunks."""
        by_end: dict[str, list[Path]] = {}
        for path in paths:
            by_end.setdefault(path.keys[-1], []).append(path)
        ends = [{"key": key, "score": sum(p.score for p in ps)} for key, ps in by_end.items()]
        parameters = {**self.scope, "entities": ends}
        return [
            _row(chunk_id, document_id, path)
            for chunk_id, document_id, keys, _score in self.run(
                mentioning_chunks_query(self.acl), parameters
            )
            for key in keys
            for path in by_end[str(key)]
        ]

    def _read_mentions(self, keys: Sequence[str]) -> None:
        missing = [key for key in dict.fromkeys(keys) if key not in self.mentions]
        if missing:
            parameters = {**self.scope, "keys": missing}
            for key, count in self.run(readable_mentions_query(self.acl), parameters):
                self.mentions[str(key)] = int(count or 0)
            for key in missing:
                self.mentions.setdefault(key, 0)

    def _expandable(self, key: str) -> bool:
        return 0 < self.mentions.get(key, 0) <= self.cap

    def _specificity(self, key: str) -> float:
        return specificity(self.mentions.get(key, 1), self.total)


def _row(chunk_id: Any, document_id: Any, path: Path) -> PathRow:
    return PathRow(
        chunk_id=str(chunk_id),
        document_id=int(document_id),
        keys=path.keys,
        weights=path.weights,
        specificity=path.specificity,
    )


def neighbourhood(
    run: Runner,
    acl: AclPredicate,
    *,
    entity_keys: Sequence[str],
    scope: AccessScope,
    hops: int,
    limit: int,
    limits: TraversalLimits,
) -> list[GraphHit]:
    """Chunks within `hops` readable relation steps of the entities, readable by the scope, best
    first (README.md, "Embedded graph engine")."""
    if not 0 <= hops <= MAX_HOPS:
        raise ValueError(f"hops must be between 0 and {MAX_HOPS}, got {hops}")
    if scope.is_empty or not entity_keys or limit <= 0:
        return []
    traversal = Traversal(run, acl, scope, limits)
    return traversal.search(entity_keys, hops=hops, limit=limit)
