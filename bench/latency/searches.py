"""Timed searches: the shipped Retriever per scope, the graph path alone at 0-2 hops, and the
vector index alone with and without a filter."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bench.common.environment import Timed
from bench.common.metrics import mean, percentiles
from bench.latency.corpus import Query
from bench.latency.stores import Stores, production_stores
from bench.latency.vectors import WARM_UP_QUERIES

# Translated before the timed searches, into each script (not a dev-set question): the model
# loads on the first.
WARM_UP_TRANSLATION = {
    "latin": "会议室怎么预订？",
    "han": "How do I book a meeting room?",
    "cyrillic": "How do I book a meeting room?",
}

if TYPE_CHECKING:
    from kb.stores.graph_embedded import EmbeddedGraphStore
    from kb.stores.qdrant_edge import QdrantEdgeIndex
    from kb.stores.types import AccessScope
    from retrieval.retriever import Retrieval, Retriever, Searcher
    from retrieval.types import Candidate

Json = dict[str, Any]


class GuardedGraph:
    """The graph path with its failures (query timeouts, the engine's buffer pool running
    out) counted and turned into no hits, so the other paths are still measured."""

    name = "graph"

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.failures: dict[str, int] = {}

    def search(self, question: str, *, scope: AccessScope, limit: int) -> list[Candidate]:
        try:
            return self.searcher.search(question, scope=scope, limit=limit)
        except RuntimeError as error:
            reason = _failure(error)
            self.failures[reason] = self.failures.get(reason, 0) + 1
            return []


def _failure(error: RuntimeError) -> str:
    text = str(error)
    return "timeout" if "nterrupted" in text else text.split("!")[0][:80]


def bench_retriever(stores: Stores, *, translate: bool = False) -> tuple[Retriever, GuardedGraph]:
    """retrieval.factory.default_retriever over the bench stores, as configured by settings
    (`translate`: with the settings' model translating questions); its graph searcher (run
    only when KB_FUSION_WEIGHTS weighs it) is guarded."""
    from retrieval.factory import default_retriever

    with production_stores(stores):
        retriever = default_retriever(translate=translate)
    shipped = next(s for s in retriever.searchers if s.name == "graph")
    guard = GuardedGraph(shipped)
    retriever.searchers = [guard if s.name == "graph" else s for s in retriever.searchers]
    return retriever, guard


def pass_through(document_ids: set[int]) -> set[int]:
    """Stands in for kb.access.readable_document_ids: the post-check is not measured here."""
    return document_ids


def top_k() -> int:
    from django.conf import settings

    value: int = settings.KB_TOP_K
    return value


def path_limit() -> int:
    from django.conf import settings

    limit: int = settings.KB_RETRIEVAL_PATH_LIMIT
    return limit


def measure_retrieval(
    retriever: Retriever, scopes: Mapping[str, AccessScope], queries: Sequence[Query]
) -> Json:
    """Every query in every scope (scope order rotating, so drifting machine load spreads
    evenly); per-path times are the Retriever's own, `retrieve` is the whole call."""
    times: dict[str, dict[str, list[float]]] = {scope: {} for scope in scopes}
    hits: dict[str, dict[str, list[float]]] = {scope: {} for scope in scopes}
    passages = top_k()
    for query in queries[:WARM_UP_QUERIES]:
        for scope in scopes.values():
            retriever.retrieve(query.text, scope=scope, allowed=pass_through, top_k=passages)
    with Timed() as timed:
        for n, query in enumerate(queries):
            for name in rotated(list(scopes), n):
                started = time.perf_counter()
                result = retriever.retrieve(
                    query.text, scope=scopes[name], allowed=pass_through, top_k=passages
                )
                elapsed = (time.perf_counter() - started) * 1000
                for key, value in [*result.latencies_ms.items(), ("retrieve", elapsed)]:
                    times[name].setdefault(key, []).append(value)
                found = {path: len(c) for path, c in result.per_path.items()}
                for key, count in [*found.items(), ("passages", len(result.passages))]:
                    hits[name].setdefault(key, []).append(count)
    report: Json = {
        "queries": len(queries),
        "paths_run": sorted(
            {key for t in times.values() for key in t} - {"fuse_check", "retrieve"}
        ),
        "other_processes_cpu_share": timed.other_share,
    }
    for name in scopes:
        report[name] = {
            "ms": {key: percentiles(values) for key, values in times[name].items()},
            "mean_hits": {key: round(mean(values), 1) for key, values in hits[name].items()},
        }
    keys = list(times[next(iter(scopes))])
    report["p50_ratio_vs_staff"] = p50_ratios(report, list(scopes), keys, baseline="staff")
    return report


def measure_translated(
    stores: Stores, scope: AccessScope, queries: Sequence[Query], scripts: frozenset[str]
) -> Json:
    """What the search path costs with translation on (KB_TRANSLATE_SEARCHES, the default;
    `/api/v1/search` is this `retrieve` plus the database's post-check and `readable_scripts`,
    a query each): each query searched as asked (translation off: the baseline) and through the
    production Retriever with the settings' model translating it into `scripts` (the scripts
    of the corpus's documents) behind the shipped gate, in alternating order. Each query's
    first search in translation is the one timed: a second would find its translations
    remembered."""
    from retrieval.translation import sharing

    plain, _ = bench_retriever(stores)
    translating, guard = bench_retriever(stores, translate=True)
    passages = top_k()

    def search(retriever: Retriever, text: str) -> tuple[float, Retrieval]:
        started = time.perf_counter()
        found = retriever.retrieve(
            text, scope=scope, allowed=pass_through, top_k=passages, document_scripts=scripts
        )
        return (time.perf_counter() - started) * 1000, found

    # The model's load is not a search's time: it translates once into each script first.
    assert translating.translator is not None
    warm_ups = {
        into: bool(translating.translator.translate(text, into, shared_by=sharing(scope)))
        for into, text in WARM_UP_TRANSLATION.items()
        if into in scripts
    }
    rows: list[Json] = []
    with Timed() as timed:
        for n, query in enumerate(queries):
            if n % 2:
                translated_ms, found = search(translating, query.text)
                as_asked_ms, _ = search(plain, query.text)
            else:
                as_asked_ms, _ = search(plain, query.text)
                translated_ms, found = search(translating, query.text)
            rows.append(
                {
                    "lang": query.lang,
                    "asked": "translate" in found.latencies_ms,
                    "as_asked_ms": round(as_asked_ms, 2),
                    "ms": round(translated_ms, 2),
                    "translate_ms": round(found.latencies_ms.get("translate", 0.0), 2),
                    "translations": len(found.translations),
                    "complete": found.complete,
                }
            )
    translated = [r for r in rows if r["asked"] and r["translations"]]
    kept = [r for r in rows if not r["asked"]]
    overall = percentiles([r["ms"] for r in rows])
    baseline = percentiles([r["as_asked_ms"] for r in rows])
    return {
        "scope": "staff",
        "document_scripts": sorted(scripts),
        "queries": len(rows),
        "translated": len(translated),
        # Asked for a translation and got none (a busy model, or a reply in the wrong script).
        "translation_missing": sum(1 for r in rows if r["asked"] and not r["translations"]),
        # Not translated into every script it should have been (some of those above).
        "incomplete": sum(1 for r in rows if not r["complete"]),
        "warm_up_translated": warm_ups,
        "translated_by_lang": {
            lang: f"{sum(r['lang'] == lang for r in translated)}/"
            f"{sum(r['lang'] == lang for r in rows)}"
            for lang in sorted({r["lang"] for r in rows})
        },
        "other_processes_cpu_share": timed.other_share,
        "with_translation_ms": overall,
        "translation_off_ms": baseline,
        "p95_ratio_vs_translation_off": round(overall["p95"] / baseline["p95"], 2)
        if rows and baseline["p95"]
        else None,
        "translated_queries_ms": percentiles([r["ms"] for r in translated]),
        "translate_step_ms": percentiles([r["translate_ms"] for r in translated]),
        "not_translated_queries_ms": percentiles([r["ms"] for r in kept]),
        "graph_failures": guard.failures,
        "rows": rows,
    }


def measure_graph(
    graph: EmbeddedGraphStore,
    scopes: Mapping[str, AccessScope],
    queries: Sequence[Query],
    *,
    deep_questions: int,
    timeout_s: float,
) -> Json:
    """GraphSearcher at 0 hops (direct mentions) on every query, at 1 and 2 hops on the
    first `deep_questions`; each query is interrupted after `timeout_s`, and a failed one
    counts at the time it took to fail."""
    from retrieval.searchers import GraphSearcher

    limit = path_limit()
    report: Json = {"timeout_s": timeout_s}
    for hops in (0, 1, 2):
        asked = queries if hops == 0 else queries[:deep_questions]
        guard = GuardedGraph(GraphSearcher(graph, hops=hops))
        times: dict[str, list[float]] = {name: [] for name in scopes}
        hits: dict[str, list[float]] = {name: [] for name in scopes}
        failed: dict[str, int] = dict.fromkeys(scopes, 0)
        with Timed() as timed:
            for n, query in enumerate(asked):
                for name in rotated(list(scopes), n):
                    before = sum(guard.failures.values())
                    started = time.perf_counter()
                    found = guard.search(query.text, scope=scopes[name], limit=limit)
                    times[name].append((time.perf_counter() - started) * 1000)
                    hits[name].append(len(found))
                    failed[name] += sum(guard.failures.values()) - before
        report[f"hops_{hops}"] = {
            "questions": len(asked),
            "failures": guard.failures,
            "other_processes_cpu_share": timed.other_share,
            **{
                name: {
                    "ms": percentiles(times[name]),
                    "failed": failed[name],
                    "mean_hits": round(mean(hits[name]), 1),
                }
                for name in scopes
            },
        }
    return report


def measure_index(
    index: QdrantEdgeIndex,
    scopes: Mapping[str, AccessScope],
    queries: Sequence[Query],
    dense_queries: Sequence[Sequence[float]],
) -> Json:
    """The vector index alone through the adapter (query vectors ready), per scope, and with
    no filter at all (the Edge shard queried directly): what the filter itself costs."""
    from kb.text.sparse import SparseEncoder

    encoder = SparseEncoder()
    sparse_queries = [encoder.encode_query(q.text) for q in queries]
    names = [*scopes, "no_filter"]
    times = {name: {"dense": list[float](), "sparse": list[float]()} for name in names}
    limit = path_limit()

    def query(name: str, path: str, n: int) -> None:
        dense = dense_queries[n] if path == "dense" else None
        sparse = sparse_queries[n] if path == "sparse" else None
        if path == "sparse" and not sparse_queries[n].indices:
            return
        started = time.perf_counter()
        if name == "no_filter":
            _unfiltered(index, path, dense or sparse_queries[n], limit)
        else:
            index.query(scope=scopes[name], limit=limit, dense=dense, sparse=sparse)
        times[name][path].append((time.perf_counter() - started) * 1000)

    for n in range(min(WARM_UP_QUERIES, len(queries))):
        for name in names:
            query(name, "dense", n)
            query(name, "sparse", n)
    for name in names:
        for path in ("dense", "sparse"):
            times[name][path].clear()
    with Timed() as timed:
        for n in range(len(queries)):
            for name in rotated(names, n):
                query(name, "dense", n)
                query(name, "sparse", n)
    report: Json = {"other_processes_cpu_share": timed.other_share}
    for name in names:
        report[name] = {path: percentiles(values) for path, values in times[name].items()}
    report["p50_ratio_vs_no_filter"] = p50_ratios(report, names, ["dense", "sparse"], "no_filter")
    return report


def _unfiltered(index: QdrantEdgeIndex, path: str, vector: Any, limit: int) -> None:
    """The adapter's query without its scope filter: the Edge shard asked directly, the query
    vector converted as the adapter converts it."""
    import qdrant_edge as edge

    from kb.stores.qdrant_edge import _query_vector

    request = edge.QueryRequest(
        limit=limit, query=edge.Query.Nearest(_query_vector(vector), using=path), with_payload=True
    )
    index._shard.query(request)


def p50_ratios(report: Json, names: Sequence[str], keys: Sequence[str], baseline: str) -> Json:
    """Each name's p50 over the baseline's, per key (None when the baseline's is 0)."""

    def p50(name: str, key: str) -> float:
        figures = report[name].get("ms", report[name])
        value: float = figures[key].get("p50", 0.0)
        return value

    return {
        name: {
            key: round(p50(name, key) / p50(baseline, key), 2) if p50(baseline, key) else None
            for key in keys
        }
        for name in names
        if name != baseline
    }


def rotated(items: list[str], n: int) -> list[str]:
    shift = n % len(items)
    return items[shift:] + items[:shift]
