"""`python -m bench latency`: options, the run in order (corpus, layout, vectors, then per size
the stores and every measurement), and the report file."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common.environment import Timed, code_state, machine, peak_rss_mb, rss_mb, setup_django
from bench.latency import llm, report, searches, stores
from bench.latency.corpus import (
    Query,
    corpus_summary,
    describe_queries,
    load_corpus,
    load_queries,
    translation_queries,
)
from bench.latency.layout import Layout, build_layout
from bench.latency.vectors import chunk_vectors, embed_queries

if TYPE_CHECKING:
    from bench.latency.vectors import Matrix

HELP = "retrieval latency with ACL filters at 10k/100k chunks, LLM TTFT and tokens/s, answers"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "results" / "latency.json"
DEFAULT_SIZES = "10000,100000"
DEFAULT_MODELS = "qwen2.5-coder-1.5b-instruct-q4_k_m,qwen2.5-coder-0.5b-instruct-q4_k_m"
Json = dict[str, Any]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sizes", default=DEFAULT_SIZES, help="chunk counts, comma-separated (%(default)s)"
    )
    parser.add_argument("--queries", type=int, default=200, help="queries per scope (%(default)s)")
    parser.add_argument(
        "--real-vectors", type=int, default=3000, help="chunks embedded for real (%(default)s)"
    )
    parser.add_argument(
        "--graph-budget",
        type=float,
        default=600.0,
        help="seconds of graph writes per size; the graph holds what was written (%(default)s)",
    )
    parser.add_argument(
        "--graph-timeout",
        type=float,
        default=5.0,
        help="seconds before a graph query is interrupted (%(default)s)",
    )
    parser.add_argument(
        "--graph-queries",
        type=int,
        default=10,
        help="questions per scope for the 1- and 2-hop graph searches (%(default)s)",
    )
    parser.add_argument(
        "--no-optimize", action="store_true", help="skip the EdgeShard.optimize() comparison"
    )
    parser.add_argument(
        "--models", default=DEFAULT_MODELS, help="GGUF names, the first is the default model"
    )
    parser.add_argument("--llm-runs", type=int, default=5, help="timed prompts per model")
    parser.add_argument("--answers", type=int, default=10, help="end-to-end answered questions")
    parser.add_argument(
        "--translated-searches",
        type=int,
        default=0,
        help="dev-set questions searched with and without translation, at the largest size, "
        "the model in settings translating (%(default)s; 99: every cross-lingual and "
        "same-language one; needs --models to name one)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON path")


def run(args: argparse.Namespace, *, command: str) -> int:
    sizes = sorted(int(size) for size in args.sizes.split(",") if size.strip())
    models = [name.strip() for name in args.models.split(",") if name.strip()]
    with tempfile.TemporaryDirectory(prefix="quarry-latency-") as tmp:
        setup_django(Path(tmp) / "quarry")
        result = measure(
            Path(tmp),
            sizes=sizes,
            models=models,
            options=Options(
                queries=args.queries,
                real_vectors=args.real_vectors,
                graph_budget_s=args.graph_budget,
                graph_timeout_s=args.graph_timeout,
                graph_queries=args.graph_queries,
                optimize=not args.no_optimize,
                llm_runs=args.llm_runs,
                answers=args.answers,
                translated_searches=args.translated_searches,
            ),
            command=command,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(args.out, file=sys.stderr)
    print(report.summary(result), file=sys.stderr)
    return 0


@dataclass(frozen=True)
class Options:
    queries: int
    real_vectors: int
    graph_budget_s: float
    graph_timeout_s: float
    graph_queries: int
    optimize: bool
    llm_runs: int
    answers: int
    translated_searches: int = 0


@dataclass(frozen=True)
class Measured:
    """What every size is measured on: the chunk sequence, its vectors, the queries."""

    layout: Layout
    vectors: Matrix
    queries: Sequence[Query]
    query_vectors: Sequence[Sequence[float]]


def measure(
    tmp: Path, *, sizes: Sequence[int], models: Sequence[str], options: Options, command: str
) -> Json:
    started = time.perf_counter()
    load_before = os.getloadavg()
    code = code_state(("kb", "retrieval", "bench/latency"))  # what runs: read it first
    progress("reading and chunking the corpus")
    with Timed() as corpus_time:
        documents = load_corpus()
    layout = build_layout(documents, max(sizes))
    real_texts = [(c.source, c.text) for c in layout.chunks if c.real_text]
    queries = load_queries(options.queries, real_texts)
    progress(f"embedding {options.real_vectors} chunks and {len(queries)} questions")
    vectors, vector_info = chunk_vectors(layout.chunks, options.real_vectors)
    query_vectors, embed_ms = embed_queries(queries)
    result: Json = {
        "machine": {**machine(), "load_avg_1m_start": load_before[0]},
        "settings": report.settings_used(),
        "corpus": {**corpus_summary(documents), "load_s": round(corpus_time.seconds, 2)},
        "vectors": vector_info,
        "acl_layout": layout.describe(sizes),
        "queries": {**describe_queries(queries), "embed_query_ms": embed_ms},
        "sizes": [],
    }
    for size in sizes:
        measured = Measured(layout, vectors, queries, query_vectors)
        last = size == max(sizes)
        entry = measure_size(
            tmp / f"stores-{size}",
            measured,
            size=size,
            options=options,
            models=models if last else (),
        )
        result["llm"] = entry.pop("llm", result.get("llm", []))
        result["sizes"].append(entry)
    result["load_avg_1m_end"] = os.getloadavg()[0]
    result["peak_rss_mb"] = peak_rss_mb()
    result["wall_s"] = round(time.perf_counter() - started, 1)
    result["command"] = command
    result["code"] = code
    return result


def measure_size(
    folder: Path, measured: Measured, *, size: int, options: Options, models: Sequence[str]
) -> Json:
    """Build the stores for the first `size` chunks and time retrieval; with `models` (the
    largest size) also the language models and whole answers over these stores."""
    from django.conf import settings

    from kb.llm.factory import forget_chat_model
    from kb.stores.graph_embedded import EmbeddedGraphStore
    from kb.stores.qdrant_edge import QdrantEdgeIndex

    layout, queries = measured.layout, measured.queries
    built = stores.Stores(
        QdrantEdgeIndex(folder / "qdrant", dense_dim=settings.KB_EMBED_DIM),
        EmbeddedGraphStore(folder / "graph"),
    )
    try:
        chunks = layout.chunks[:size]
        entry: Json = {"chunks": size, "documents": len({c.document_id for c in chunks})}
        progress(f"{size}: writing vectors")
        entry["build"] = stores.build_vectors(built.index, chunks, measured.vectors)
        progress(f"{size}: writing the graph (budget {options.graph_budget_s:.0f} s)")
        entry["graph"] = stores.build_graph(built.graph, chunks, budget_s=options.graph_budget_s)
        entry["rss_mb_after_build"] = rss_mb()
        built.graph._conn.set_query_timeout(int(options.graph_timeout_s * 1000))
        retriever, guard = searches.bench_retriever(built)
        progress(f"{size}: retrieval, {len(queries)} questions x {len(layout.scopes)} scopes")
        entry["retrieval"] = searches.measure_retrieval(retriever, layout.scopes, queries)
        entry["retrieval"]["graph_failures"] = guard.failures
        progress(f"{size}: graph searches at 0, 1 and 2 hops")
        entry["graph_search"] = searches.measure_graph(
            built.graph,
            layout.scopes,
            queries,
            deep_questions=options.graph_queries,
            timeout_s=options.graph_timeout_s,
        )
        progress(f"{size}: vector index alone")
        entry["vector_index"] = searches.measure_index(
            built.index, layout.scopes, queries, measured.query_vectors
        )
        if models:
            staff = layout.scopes["staff"]
            prompts = llm.llm_prompts(retriever, staff, options.llm_runs + 1)
            entry["llm"] = []
            for name in models:
                progress(f"{size}: language model {name}")
                entry["llm"].append(llm.measure_llm(name, prompts, runs=options.llm_runs))
            if options.answers > 0:
                progress(f"{size}: {options.answers} answers")
                skip = options.llm_runs + 1
                entry["answers"] = llm.measure_answers(
                    retriever, staff, count=options.answers, skip=skip
                )
            if options.translated_searches > 0:
                asked = translation_queries(options.translated_searches)
                progress(f"{size}: {len(asked)} searches with and without translation")
                entry["translated_search"] = searches.measure_translated(
                    built, staff, asked, document_scripts(chunks)
                )
            forget_chat_model()
        if options.optimize:
            progress(f"{size}: EdgeShard.optimize()")
            entry["optimize"] = stores.optimize_index(built.index)
            entry["vector_index_optimized"] = searches.measure_index(
                built.index, layout.scopes, queries, measured.query_vectors
            )
        entry["rss_mb_end"] = rss_mb()
        return entry
    finally:
        built.close()


def document_scripts(chunks: Sequence[Any]) -> frozenset[str]:
    """The scripts of the corpus's documents, as indexing records them (Document.script: that
    of the document's whole text)."""
    from kb.text.script import script_of

    texts: dict[int, list[str]] = {}
    for chunk in chunks:
        texts.setdefault(chunk.document_id, []).append(chunk.text)
    return frozenset(script_of(" ".join(parts)) for parts in texts.values())


_STARTED = time.perf_counter()


def progress(message: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:7.0f} s] {message}", file=sys.stderr, flush=True)
