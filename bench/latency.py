"""Query latency at scale: retrieval per path and fused with ACL filters at 10k and 100k chunks,
the language model's time to first token and tokens/s, and whole answers end to end.

- Corpus: Debian's `debian-handbook` (en-US, zh-CN, ru-RU) and `postgresql-doc-15` HTML pages,
  block elements read with lxml and cut by our own chunker (`ingestion.chunk.chunk_elements`,
  300 tokens): about 11.8k real chunks in 1.5k documents. Beyond that, documents are
  recombined: each chunk of a real document (taken in turn) keeps its first half of sentences
  and takes the second half from a random chunk of the same source. The chunk sequence is
  fixed by the seed, so the 10k store holds the first 10k chunks of the 100k one.
- Dense vectors: the first `--real-vectors` chunks are embedded with the configured model;
  every other chunk gets a synthetic unit vector: a random mix of two real ones plus Gaussian
  noise (embedding 100k chunks takes ~40 min here). So dense scores of synthetic chunks do not
  describe their text; latency, not relevance, is measured. Sparse vectors and graph entities
  come from the chunk texts with the production code (`SparseEncoder`, `RuleEntityExtractor`).
- Stores: the production adapters (`QdrantEdgeIndex`, `EmbeddedGraphStore`) in a temporary
  folder, written per document as `ingestion.pipeline` does. ACL layout: 20 collections of
  Zipf-like sizes, 50 groups, each collection read by 1-3 groups and 10% of documents narrowed
  to one of them; payloads carry the entries `kb.access.document_acl` would stamp.
  The graph is written until `--graph-budget` seconds per size are spent; its size is recorded.
- Scopes (as `kb.access.access_scope` builds them): staff (matches every chunk, the baseline
  that ratios divide by), broad (a user in two groups, 5-20% of chunks), narrow (a user whose
  only group reads one small collection, about 0.5%). Queries: the dev set's questions, then
  sentences sampled from the corpus, run in turn for every scope.
- Retrieval: `Retriever.retrieve` as `retrieval.factory.default_retriever` builds it from
  settings (per-path limit, fusion weights: a path weighted 0 is not run; top_k 5); per-path
  latencies are the Retriever's own timings. The database post-check is a pass-through (no
  Django document rows at this scale). The graph path is timed on its own with
  `GraphSearcher` at 0 hops on every question and at 1 and 2 hops on `--graph-queries`
  questions, each query interrupted after `--graph-timeout` seconds. Also the vector index
  alone (query vectors ready), with and without a filter, before and after
  `EdgeShard.optimize()` (what `manage.py kb_optimize` runs in a maintenance window).
- LLM: each `--models` entry in process via `LlamaCppChat` (the default through
  `kb.llm.factory.chat_model`), prompts from `retrieval.prompting.answer_messages` with the 5
  passages retrieved for a dev-set question, each prompt different (llama.cpp reuses a cached
  prefix); one untimed warm-up. Answers: the production `Answerer` over the largest store for
  `--answers` further questions, max_tokens 200, staff scope.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common.corpus import SOURCES
from bench.common.environment import Timed, code_state, machine, setup_django

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ingestion.types import ParsedElement
    from kb.llm.chat import ChatModel, Message
    from kb.stores.graph_embedded import EmbeddedGraphStore
    from kb.stores.qdrant_edge import QdrantEdgeIndex
    from kb.stores.types import AccessScope
    from retrieval.answerer import Answerer
    from retrieval.retriever import Retriever
    from retrieval.searchers import GraphSearcher
    from retrieval.types import Candidate

    Matrix = npt.NDArray[np.float32]

HELP = "retrieval latency with ACL filters at 10k/100k chunks, LLM TTFT and tokens/s, answers"
DEVSET = Path(__file__).resolve().parent / "devset"
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "latency.json"
DEFAULT_SIZES = "10000,100000"
DEFAULT_MODELS = "qwen2.5-coder-1.5b-instruct-q4_k_m,qwen2.5-coder-0.5b-instruct-q4_k_m"
SEED = 20240611
TOP_K = 5
ANSWER_MAX_TOKENS = 200
PATHS = ("dense", "sparse", "graph")
SCOPES = ("staff", "broad", "narrow")
PERCENTILES = (50, 95, 99)
COLLECTIONS = 20
GROUPS = 50
NARROWED_DOCUMENTS = 0.10
NARROW_COLLECTION_SHARE = 0.005
BROAD_RANGE = (0.05, 0.20)
NOISE_NORM = 0.35  # length of the noise added to a synthetic vector before normalising
WARM_UP_QUERIES = 5
MIN_GENERATED = 16  # shorter replies ("I don't know") say little about generation speed
CHUNK_NAMESPACE = uuid.UUID("0b6c1f4e-3f4d-4bb5-8f0e-6d0f2b9d4a11")
# Block elements read from the HTML; a block that holds other blocks is left to them.
BLOCKS = (
    "self::h1 or self::h2 or self::h3 or self::h4 or self::p or self::pre or self::li or "
    "self::dt or self::dd or self::td or self::th or (self::div and @class='para')"
)
NAVIGATION = (
    "//script|//style|//ul[@class='docnav']|//div[@class='navheader']|"
    "//div[@class='navfooter']|//div[@class='toc']"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")
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
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON path")


def run(args: argparse.Namespace, *, command: str) -> int:
    sizes = sorted(int(size) for size in args.sizes.split(",") if size.strip())
    models = [name.strip() for name in args.models.split(",") if name.strip()]
    with tempfile.TemporaryDirectory(prefix="quarry-latency-") as tmp:
        setup_django(Path(tmp) / "quarry")
        report = measure(
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
            ),
            command=command,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(args.out, file=sys.stderr)
    print(summary(report), file=sys.stderr)
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


def measure(
    tmp: Path, *, sizes: Sequence[int], models: Sequence[str], options: Options, command: str
) -> Json:
    started = time.perf_counter()
    load_before = os.getloadavg()
    code = code_state(("kb", "retrieval", "bench/latency.py"))  # what runs: read it first
    progress("reading and chunking the corpus")
    with Timed() as corpus_time:
        documents = load_corpus()
    layout = build_layout(documents, max(sizes))
    questions = load_questions(options.queries, layout.chunks)
    progress(f"embedding {options.real_vectors} chunks and {len(questions)} questions")
    vectors, vector_info = chunk_vectors(layout.chunks, options.real_vectors)
    query_vectors, embed_ms = embed_questions(questions)
    report: Json = {
        "machine": {**machine(), "load_avg_1m_start": load_before[0]},
        "settings": _settings(),
        "corpus": {**corpus_summary(documents), "load_s": round(corpus_time.seconds, 2)},
        "vectors": vector_info,
        "acl_layout": layout.describe(sizes),
        "queries": {**_describe_questions(questions), "embed_query_ms": embed_ms},
        "sizes": [],
    }
    for size in sizes:
        measured = Measured(layout, vectors, questions, query_vectors)
        last = size == max(sizes)
        entry = measure_size(
            tmp / f"stores-{size}", measured, size=size, options=options,
            models=models if last else (),
        )  # fmt: skip
        report["llm"] = entry.pop("llm", report.get("llm", []))
        report["sizes"].append(entry)
    report["load_avg_1m_end"] = os.getloadavg()[0]
    report["peak_rss_mb"] = _peak_rss_mb()
    report["wall_s"] = round(time.perf_counter() - started, 1)
    report["command"] = command
    report["code"] = code
    return report


@dataclass(frozen=True)
class Measured:
    """What every size is measured on: the chunk sequence, its vectors, the questions."""

    layout: Layout
    vectors: Matrix
    questions: Sequence[Question]
    query_vectors: Sequence[Sequence[float]]


def _settings() -> Json:
    from django.conf import settings

    return {
        "path_limit": settings.KB_RETRIEVAL_PATH_LIMIT,
        "fusion_weights": settings.KB_FUSION_WEIGHTS,
        "top_k": TOP_K,
        "graph_hops": settings.KB_GRAPH_HOPS,
        "embed_model": settings.KB_EMBED_MODEL,
        "llm_n_ctx": settings.KB_LLM_N_CTX,
        "llm_n_gpu_layers": settings.KB_LLM_N_GPU_LAYERS,
        "prompt_template": settings.KB_PROMPT_TEMPLATE,
        "refusal": {
            "min_dense": settings.KB_REFUSAL_MIN_DENSE,
            "min_coverage": settings.KB_REFUSAL_MIN_COVERAGE,
            "other_script_min_dense": settings.KB_REFUSAL_OTHER_MIN_DENSE,
            "other_script_min_coverage": settings.KB_REFUSAL_OTHER_MIN_COVERAGE,
        },
        "answer_max_tokens": ANSWER_MAX_TOKENS,
        "post_check": "pass-through (no Django document rows at this scale)",
    }


# The corpus: real documents cut by our chunker.


@dataclass(frozen=True)
class SourceChunk:
    text: str
    section: str


@dataclass(frozen=True)
class SourceDocument:
    source: str
    title: str
    chunks: tuple[SourceChunk, ...]


def load_corpus() -> list[SourceDocument]:
    missing = [str(folder) for folder in SOURCES.values() if not folder.is_dir()]
    if missing:
        sys.exit(f"corpus missing ({', '.join(missing)}): `make bench` installs it with apt-get")
    from ingestion.chunk import chunk_elements

    documents = []
    for source, folder in SOURCES.items():
        for path in sorted(folder.glob("*.html")):
            title, elements = html_elements(path)
            chunks = tuple(SourceChunk(c.text, c.section) for c in chunk_elements(elements))
            if chunks:
                documents.append(SourceDocument(source, title, chunks))
    return documents


def html_elements(path: Path) -> tuple[str, list[ParsedElement]]:
    """Headings, paragraphs, list items, table cells and code blocks in reading order, without
    the navigation; each element's section is the heading above it."""
    import lxml.html

    from ingestion.types import ElementKind, ParsedElement

    root = lxml.html.parse(str(path)).getroot()
    for noise in root.xpath(NAVIGATION):
        noise.drop_tree()
    title = " ".join((root.findtext(".//title") or path.stem).split())
    section = title
    elements = []
    for block in root.xpath(f"//body//*[{BLOCKS}]"):
        if block.xpath(f".//*[{BLOCKS}]"):
            continue
        if block.tag == "pre":
            kind, text = ElementKind.CODE, block.text_content().strip("\n")
        else:
            heading = block.tag in ("h1", "h2", "h3", "h4")
            kind = ElementKind.TITLE if heading else ElementKind.TEXT
            text = " ".join(block.text_content().split())
        if not text.strip():
            continue
        if kind is ElementKind.TITLE:
            section = text
        elements.append(ParsedElement(kind=kind, text=text, section=section))
    return title, elements


def corpus_summary(documents: Sequence[SourceDocument]) -> Json:
    from ingestion.chunk import count_tokens

    sources: dict[str, Json] = {}
    for document in documents:
        entry = sources.setdefault(document.source, {"documents": 0, "chunks": 0})
        entry["documents"] += 1
        entry["chunks"] += len(document.chunks)
    tokens = [count_tokens(c.text) for d in documents for c in d.chunks]
    return {
        "real_documents": len(documents),
        "real_chunks": len(tokens),
        "chunk_tokens_mean": round(sum(tokens) / max(len(tokens), 1), 1),
        "sources": sources,
        "chunker": "ingestion.chunk.chunk_elements (300 tokens, overlap 50) on lxml blocks",
    }


# The chunk sequence and its access layout.


@dataclass(frozen=True)
class BenchChunk:
    id: str
    document_id: int
    collection_id: int
    number: int
    source: str
    title: str
    section: str
    text: str
    acl: tuple[str, ...]
    real_text: bool
    row: int  # position in the sequence, and the row of its dense vector


@dataclass
class Layout:
    chunks: list[BenchChunk]
    readers: dict[int, list[int]]  # collection id -> reader group ids
    narrow_collection: int
    broad_groups: list[int]
    documents_narrowed: int = 0
    scopes: dict[str, AccessScope] = field(default_factory=dict)

    def scope_share(self, scope: AccessScope, size: int) -> float:
        return round(sum(1 for c in self.chunks[:size] if matches(c, scope)) / size, 4)

    def describe(self, sizes: Sequence[int]) -> Json:
        return {
            "collections": len(self.readers),
            "groups": GROUPS,
            "readers_per_collection": {str(c): g for c, g in self.readers.items()},
            "documents_narrowed_share": NARROWED_DOCUMENTS,
            "scopes": {
                name: {
                    "collection_ids": list(scope.collection_ids),
                    "acl": list(scope.acl),
                    "share_of_chunks": {str(n): self.scope_share(scope, n) for n in sizes},
                }
                for name, scope in self.scopes.items()
            },
        }


def build_layout(documents: Sequence[SourceDocument], size: int) -> Layout:
    """`size` chunks in documents: the real ones in a seeded order, then recombined ones; each
    document in a collection, some narrowed to one reader group; the three scopes."""
    from kb.access import ACL_AUTHENTICATED, ACL_STAFF, group_acl
    from kb.stores.types import AccessScope

    rng = random.Random(SEED)  # noqa: S311 - a reproducible layout, not a secret
    weights = [1 / rank**0.7 for rank in range(1, COLLECTIONS)]  # Zipf-like sizes
    collection_ids = list(range(1, COLLECTIONS + 1))
    narrow_collection = collection_ids[-1]
    readers = {c: sorted(rng.sample(range(1, GROUPS), rng.randint(1, 3))) for c in collection_ids}
    readers[narrow_collection] = [GROUPS]  # the narrow user's only group reads only this one
    chunks: list[BenchChunk] = []
    narrowed = in_narrow = 0
    for document_id, (template, real) in enumerate(_documents(documents, rng), start=1):
        if len(chunks) >= size:
            break
        collection = rng.choices(collection_ids[:-1], weights=weights)[0]
        taken = min(len(template.chunks), size - len(chunks))
        if in_narrow + taken <= NARROW_COLLECTION_SHARE * (len(chunks) + taken):
            collection = narrow_collection  # keeps its share in every prefix of the sequence
            in_narrow += taken
        groups = readers[collection]
        if rng.random() < NARROWED_DOCUMENTS and len(groups) > 1:
            groups = [rng.choice(groups)]
            narrowed += 1
        acl = (ACL_STAFF, *(group_acl(g) for g in groups))
        for number, chunk in enumerate(template.chunks[: size - len(chunks)]):
            text = chunk.text if real else recombine(chunk.text, _partner(template, documents, rng))
            chunks.append(BenchChunk(
                id=str(uuid.uuid5(CHUNK_NAMESPACE, f"{document_id}:1:{number}")),
                document_id=document_id, collection_id=collection, number=number,
                source=template.source, title=template.title, section=chunk.section, text=text,
                acl=acl, real_text=real, row=len(chunks),
            ))  # fmt: skip
    layout = Layout(chunks, readers, narrow_collection, [], narrowed)
    layout.broad_groups = _broad_groups(layout, rng)
    user = [ACL_AUTHENTICATED]
    layout.scopes = {
        "staff": AccessScope(collection_ids, [*user, ACL_STAFF]),
        "broad": _group_scope(layout, layout.broad_groups),
        "narrow": _group_scope(layout, [GROUPS]),
    }
    return layout


def _documents(
    documents: Sequence[SourceDocument], rng: random.Random
) -> Iterator[tuple[SourceDocument, bool]]:
    """The real documents in a seeded order, then the same order again and again as templates
    for recombined documents."""
    order = list(documents)
    rng.shuffle(order)
    yield from ((document, True) for document in order)
    while True:
        yield from ((document, False) for document in order)


def _partner(
    template: SourceDocument, documents: Sequence[SourceDocument], rng: random.Random
) -> str:
    """A random chunk text of the same source (same language) as the template."""
    while True:
        other = documents[rng.randrange(len(documents))]
        if other.source == template.source:
            return other.chunks[rng.randrange(len(other.chunks))].text


def recombine(first: str, second: str) -> str:
    """The first half of `first`'s sentences followed by the second half of `second`'s."""
    head = _sentences(first)
    tail = _sentences(second)
    return " ".join([*head[: (len(head) + 1) // 2], *tail[len(tail) // 2 :]])


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()] or [text]


def matches(chunk: BenchChunk, scope: AccessScope) -> bool:
    """The stores' rule (kb.stores.types.AccessScope)."""
    return chunk.collection_id in scope.collection_ids and not set(chunk.acl).isdisjoint(scope.acl)


def _group_scope(layout: Layout, groups: Sequence[int]) -> AccessScope:
    """What access_scope gives a user in `groups`: the collections they read, their entries."""
    from kb.access import ACL_AUTHENTICATED, group_acl
    from kb.stores.types import AccessScope

    collections = sorted(c for c, readers in layout.readers.items() if set(readers) & set(groups))
    return AccessScope(collections, [ACL_AUTHENTICATED, *(group_acl(g) for g in groups)])


def _broad_groups(layout: Layout, rng: random.Random) -> list[int]:
    """Two groups whose scope is closest to the middle of BROAD_RANGE, among seeded pairs."""
    low, high = BROAD_RANGE
    target = (low + high) / 2
    size = len(layout.chunks)
    best: tuple[float, list[int]] = (1.0, [1, 2])
    for _ in range(60):
        groups = sorted(rng.sample(range(1, GROUPS), 2))
        share = layout.scope_share(_group_scope(layout, groups), size)
        if low <= share <= high and abs(share - target) < best[0]:
            best = (abs(share - target), groups)
    return best[1]


# Dense vectors: real embeddings, then synthetic ones around them.


def chunk_vectors(chunks: Sequence[BenchChunk], real: int) -> tuple[Matrix, Json]:
    import numpy as np
    from django.conf import settings

    from kb.text.embeddings import load_embedder

    embedder = load_embedder(settings.KB_EMBED_MODEL)
    real = min(real, len(chunks))
    texts = [c.text for c in chunks[:real]]
    embedder.encode_documents(texts[:8])  # warm-up
    with Timed() as timed:
        embedded = np.asarray(embedder.encode_documents(texts), dtype=np.float32)
    synthetic, parent_cosine = synthetic_vectors(embedded, len(chunks) - real)
    return np.vstack([embedded, synthetic]), {
        "dimension": int(embedded.shape[1]),
        "real": real,
        "real_embed_s": round(timed.seconds, 2),
        "real_chunks_per_s": round(real / timed.seconds, 2) if timed.seconds else None,
        "synthetic": len(chunks) - real,
        "synthetic_rule": (
            "unit(w*a + (1-w)*b + noise): a, b random real vectors, w ~ U(0.5, 1), "
            f"noise Gaussian of length {NOISE_NORM}"
        ),
        "synthetic_cosine_to_a_mean": parent_cosine,
        "other_processes_cpu_share": timed.other_share,
    }


def synthetic_vectors(real: Matrix, count: int, seed: int = SEED) -> tuple[Matrix, float]:
    """`count` unit vectors near the real ones (random mixes of two, plus noise), and their
    mean cosine to the heavier of the two."""
    import numpy as np

    dimension = real.shape[1]
    if count <= 0 or len(real) == 0:
        return np.zeros((0, dimension), dtype=np.float32), 0.0
    rng = np.random.default_rng(seed)
    first = rng.integers(len(real), size=count)
    second = rng.integers(len(real), size=count)
    weight = rng.uniform(0.5, 1.0, size=(count, 1)).astype(np.float32)
    noise = rng.normal(scale=NOISE_NORM / dimension**0.5, size=(count, dimension))
    mixed = weight * real[first] + (1 - weight) * real[second] + noise.astype(np.float32)
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    cosine = float(np.mean(np.sum(mixed * real[first], axis=1)))
    return mixed.astype(np.float32), round(cosine, 3)


# Queries: real questions first, then sentences from the corpus.


@dataclass(frozen=True)
class Question:
    text: str
    lang: str
    origin: str  # "devset" or "corpus"


def load_questions(count: int, chunks: Sequence[BenchChunk]) -> list[Question]:
    questions = []
    for name in ("retrieval.jsonl", "unanswerable.jsonl"):
        path = DEVSET / name
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    questions.append(Question(row["question"], row["lang"], "devset"))
    questions = questions[:count]
    rng = random.Random(SEED + 1)  # noqa: S311 - reproducible sampling
    real = [c for c in chunks if c.real_text]
    while len(questions) < count and real:
        chunk = real[rng.randrange(len(real))]
        sentence = _query_sentence(chunk.text, rng)
        if sentence:
            questions.append(Question(sentence, _language(chunk.source), "corpus"))
    return questions


def _query_sentence(text: str, rng: random.Random) -> str:
    """A sentence of 6-30 words (or 10-60 characters in Chinese), or "" if the chunk has none."""
    fitting = [
        s.strip()
        for s in _sentences(text)
        if 6 <= len(s.split()) <= 30 or (" " not in s.strip() and 10 <= len(s.strip()) <= 60)
    ]
    return fitting[rng.randrange(len(fitting))] if fitting else ""


def _language(source: str) -> str:
    return {"zh-CN": "zh", "ru-RU": "ru"}.get(source.rsplit("/", 1)[-1], "en")


def _describe_questions(questions: Sequence[Question]) -> Json:
    origins: dict[str, int] = {}
    languages: dict[str, int] = {}
    for question in questions:
        origins[question.origin] = origins.get(question.origin, 0) + 1
        languages[question.lang] = languages.get(question.lang, 0) + 1
    return {"count": len(questions), "origins": origins, "languages": languages,
            "sampling": "bench/devset questions in file order, then corpus sentences "
                        "(6-30 words) from seeded random real chunks"}  # fmt: skip


# One size: build the stores, time retrieval, and at the largest size the answers.


@dataclass
class Stores:
    index: QdrantEdgeIndex
    graph: EmbeddedGraphStore

    def close(self) -> None:
        self.index.close()
        self.graph.close()


def measure_size(
    folder: Path, measured: Measured, *, size: int, options: Options, models: Sequence[str]
) -> Json:
    """Build the stores for the first `size` chunks and time retrieval; with `models` (the
    largest size) also the language models and whole answers over these stores."""
    from django.conf import settings

    from kb.llm.factory import forget_chat_model
    from kb.stores.graph_embedded import EmbeddedGraphStore
    from kb.stores.qdrant_edge import QdrantEdgeIndex

    layout, questions = measured.layout, measured.questions
    stores = Stores(
        QdrantEdgeIndex(folder / "qdrant", dense_dim=settings.KB_EMBED_DIM),
        EmbeddedGraphStore(folder / "graph"),
    )
    try:
        chunks = layout.chunks[:size]
        entry: Json = {"chunks": size, "documents": len({c.document_id for c in chunks})}
        progress(f"{size}: writing vectors")
        entry["build"] = build_vectors(stores.index, chunks, measured.vectors)
        progress(f"{size}: writing the graph (budget {options.graph_budget_s:.0f} s)")
        entry["graph"] = build_graph(stores.graph, chunks, budget_s=options.graph_budget_s)
        entry["rss_mb_after_build"] = _rss_mb()
        stores.graph._conn.set_query_timeout(int(options.graph_timeout_s * 1000))
        retriever, guard = bench_retriever(stores)
        progress(f"{size}: retrieval, {len(questions)} questions x {len(layout.scopes)} scopes")
        entry["retrieval"] = measure_retrieval(retriever, layout.scopes, questions)
        entry["retrieval"]["graph_failures"] = guard.failures
        progress(f"{size}: graph searches at 0, 1 and 2 hops")
        entry["graph_search"] = measure_graph(
            stores.graph, layout.scopes, questions, deep_questions=options.graph_queries,
            timeout_s=options.graph_timeout_s,
        )  # fmt: skip
        progress(f"{size}: vector index alone")
        index = measure_index(stores.index, layout.scopes, questions, measured.query_vectors)
        entry["vector_index"] = index
        if models:
            staff = layout.scopes["staff"]
            prompts = llm_prompts(retriever, staff, options.llm_runs + 1)
            entry["llm"] = []
            for name in models:
                progress(f"{size}: language model {name}")
                entry["llm"].append(measure_llm(name, prompts, runs=options.llm_runs))
            if options.answers > 0:
                progress(f"{size}: {options.answers} answers")
                skip = options.llm_runs + 1
                entry["answers"] = measure_answers(
                    retriever, staff, count=options.answers, skip=skip
                )
            forget_chat_model()
        if options.optimize:
            progress(f"{size}: EdgeShard.optimize()")
            entry["optimize"] = optimize_index(stores.index)
            entry["vector_index_optimized"] = measure_index(
                stores.index, layout.scopes, questions, measured.query_vectors
            )
        entry["rss_mb_end"] = _rss_mb()
        return entry
    finally:
        stores.close()


_STARTED = time.perf_counter()


def progress(message: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:7.0f} s] {message}", file=sys.stderr, flush=True)


class GuardedGraph:
    """The graph path with its failures (query timeouts, the engine's buffer pool running
    out) counted and turned into no hits, so the other paths are still measured."""

    name = "graph"

    def __init__(self, searcher: GraphSearcher) -> None:
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


def bench_retriever(stores: Stores) -> tuple[Retriever, GuardedGraph]:
    """retrieval.factory.default_retriever over the bench stores, as configured by settings;
    its graph searcher (run only when KB_FUSION_WEIGHTS weighs it) is guarded."""
    from retrieval.factory import default_retriever
    from retrieval.searchers import GraphSearcher

    with production_stores(stores):
        retriever = default_retriever()
    shipped = next(s for s in retriever.searchers if s.name == "graph")
    hops = shipped.hops if isinstance(shipped, GraphSearcher) else 1
    guard = GuardedGraph(GraphSearcher(stores.graph, hops=hops))
    retriever.searchers = [guard if s.name == "graph" else s for s in retriever.searchers]
    return retriever, guard


def measure_graph(
    graph: EmbeddedGraphStore,
    scopes: Mapping[str, AccessScope],
    questions: Sequence[Question],
    *,
    deep_questions: int,
    timeout_s: float,
) -> Json:
    """GraphSearcher at 0 hops (direct mentions) on every question, at 1 and 2 hops on the
    first `deep_questions`; each query is interrupted after `timeout_s`, and a failed one
    counts at the time it took to fail."""
    from retrieval.searchers import GraphSearcher

    limit = _path_limit()
    report: Json = {"timeout_s": timeout_s}
    for hops in (0, 1, 2):
        asked = questions if hops == 0 else questions[:deep_questions]
        guard = GuardedGraph(GraphSearcher(graph, hops=hops))
        times: dict[str, list[float]] = {name: [] for name in scopes}
        hits: dict[str, list[float]] = {name: [] for name in scopes}
        failed: dict[str, int] = dict.fromkeys(scopes, 0)
        with Timed() as timed:
            for n, question in enumerate(asked):
                for name in _rotated(list(scopes), n):
                    before = sum(guard.failures.values())
                    started = time.perf_counter()
                    found = guard.search(question.text, scope=scopes[name], limit=limit)
                    times[name].append((time.perf_counter() - started) * 1000)
                    hits[name].append(len(found))
                    failed[name] += sum(guard.failures.values()) - before
        report[f"hops_{hops}"] = {
            "questions": len(asked),
            "failures": guard.failures,
            "other_processes_cpu_share": timed.other_share,
            **{
                name: {"ms": stats(times[name]), "failed": failed[name],
                       "mean_hits": round(_mean(hits[name]), 1)}
                for name in scopes
            },
        }  # fmt: skip
    return report


def build_vectors(index: QdrantEdgeIndex, chunks: Sequence[BenchChunk], vectors: Matrix) -> Json:
    """Points per document, in batches of the pipeline's size, as ingestion writes them."""
    from kb.stores.types import ChunkPoint
    from kb.text.sparse import SparseEncoder

    encoder = SparseEncoder()
    sparse_s = upsert_s = 0.0
    terms = 0
    with Timed() as timed:
        for batch in _per_document(chunks):
            started = time.perf_counter()
            points = []
            for chunk in batch:
                sparse = encoder.encode_document(chunk.text)
                terms += len(sparse.indices)
                dense = vectors[chunk.row].tolist()
                points.append(ChunkPoint(id=chunk.id, dense=dense, sparse=sparse,
                                         payload=payload(chunk)))  # fmt: skip
            upsert_started = time.perf_counter()
            sparse_s += upsert_started - started
            index.upsert(points)
            upsert_s += time.perf_counter() - upsert_started
    info = index._shard.info()
    return {
        "wall_s": round(timed.seconds, 2),
        "sparse_encode_and_points_s": round(sparse_s, 2),
        "upsert_s": round(upsert_s, 2),
        "upsert_ms_per_chunk": round(upsert_s * 1000 / len(chunks), 3),
        "sparse_terms_per_chunk": round(terms / len(chunks), 1),
        "segments": info.segments_count,
        "indexed_vectors": info.indexed_vectors_count,
        "other_processes_cpu_share": timed.other_share,
    }


def _per_document(chunks: Sequence[BenchChunk], batch: int = 256) -> Iterator[list[BenchChunk]]:
    current: list[BenchChunk] = []
    for chunk in chunks:
        if current and (chunk.document_id != current[0].document_id or len(current) >= batch):
            yield current
            current = []
        current.append(chunk)
    if current:
        yield current


def payload(chunk: BenchChunk) -> Json:
    """What ingestion.pipeline._points stores."""
    from kb.stores.payload import ChunkPayload

    return ChunkPayload(
        chunk_id=chunk.id,
        chunk_number=chunk.number,
        document_id=chunk.document_id,
        document_version=1,
        collection_id=chunk.collection_id,
        acl=chunk.acl,
        title=chunk.title,
        page=None,
        section=chunk.section,
        text=chunk.text,
    ).to_dict()


def build_graph(
    graph: EmbeddedGraphStore, chunks: Sequence[BenchChunk], *, budget_s: float
) -> Json:
    """Rule-based entities per chunk, written per document as ingestion does, until the budget
    is spent. Write cost per chunk is recorded per tenth of the way, to show its growth."""
    from kb.stores.types import GraphChunk
    from kb.text.llm_entities import RuleEntityExtractor

    extractor = RuleEntityExtractor()
    extract_s = write_s = 0.0
    written = 0
    step = max(len(chunks) // 10, 1)
    progression: list[list[float]] = []
    window = (0, 0.0)
    with Timed() as timed:
        for batch in _per_document(chunks):
            if extract_s + write_s >= budget_s:
                break
            started = time.perf_counter()
            found = [(chunk, extractor.extract(chunk.text)) for chunk in batch]
            graph_chunks = [
                GraphChunk(id=c.id, document_id=c.document_id, collection_id=c.collection_id,
                           acl=list(c.acl), entities=e.entities, relations=e.relations)
                for c, e in found
            ]  # fmt: skip
            writing = time.perf_counter()
            extract_s += writing - started
            graph.upsert_chunks(graph_chunks)
            write_s += time.perf_counter() - writing
            written += len(batch)
            if written - window[0] >= step:
                per_chunk = (write_s - window[1]) * 1000 / (written - window[0])
                progression.append([written, round(per_chunk, 2)])
                window = (written, write_s)
    return {
        "chunks_written": written,
        "complete": written == len(chunks),
        "budget_s": budget_s,
        "entity_extract_s": round(extract_s, 2),
        "write_s": round(write_s, 2),
        "write_ms_per_chunk": round(write_s * 1000 / max(written, 1), 2),
        "write_ms_per_chunk_by_progress": progression,
        "entities": graph.count_entities(),
        "other_processes_cpu_share": timed.other_share,
    }


@contextmanager
def production_stores(stores: Stores) -> Iterator[None]:
    """kb.stores.factory hands out the bench stores, so retrieval.factory builds the Retriever
    and the Answerer exactly as the web process does."""
    from unittest import mock

    from kb.stores import factory

    with (
        mock.patch.object(factory, "_vector_index", stores.index),
        mock.patch.object(factory, "_graph_store", stores.graph),
    ):
        yield


def pass_through(document_ids: set[int]) -> set[int]:
    """Stands in for kb.access.readable_document_ids: there are no document rows here."""
    return document_ids


def measure_retrieval(
    retriever: Retriever, scopes: Mapping[str, AccessScope], questions: Sequence[Question]
) -> Json:
    """Every question in every scope (scope order rotating, so drifting machine load spreads
    evenly); per-path times are the Retriever's own, `retrieve` is the whole call."""
    times: dict[str, dict[str, list[float]]] = {scope: {} for scope in scopes}
    hits: dict[str, dict[str, list[float]]] = {scope: {} for scope in scopes}
    for question in questions[:WARM_UP_QUERIES]:
        for scope in scopes.values():
            retriever.retrieve(question.text, scope=scope, allowed=pass_through, top_k=TOP_K)
    with Timed() as timed:
        for n, question in enumerate(questions):
            for name in _rotated(list(scopes), n):
                started = time.perf_counter()
                result = retriever.retrieve(
                    question.text, scope=scopes[name], allowed=pass_through, top_k=TOP_K
                )
                elapsed = (time.perf_counter() - started) * 1000
                for key, value in [*result.latencies_ms.items(), ("retrieve", elapsed)]:
                    times[name].setdefault(key, []).append(value)
                found = {path: len(c) for path, c in result.per_path.items()}
                for key, count in [*found.items(), ("passages", len(result.passages))]:
                    hits[name].setdefault(key, []).append(count)
    report: Json = {
        "queries": len(questions),
        "paths_run": sorted(
            {key for t in times.values() for key in t} - {"fuse_check", "retrieve"}
        ),
        "other_processes_cpu_share": timed.other_share,
    }
    for name in scopes:
        report[name] = {
            "ms": {key: stats(values) for key, values in times[name].items()},
            "mean_hits": {key: round(_mean(values), 1) for key, values in hits[name].items()},
        }
    keys = list(times[next(iter(scopes))])
    report["p50_ratio_vs_staff"] = _ratios(report, list(scopes), keys, baseline="staff")
    return report


def embed_questions(questions: Sequence[Question]) -> tuple[list[list[float]], Json]:
    from django.conf import settings

    from kb.text.embeddings import load_embedder

    embedder = load_embedder(settings.KB_EMBED_MODEL)
    for question in questions[:WARM_UP_QUERIES]:
        embedder.encode_query(question.text)
    vectors, times = [], []
    with Timed() as timed:
        for question in questions:
            started = time.perf_counter()
            vectors.append(embedder.encode_query(question.text))
            times.append((time.perf_counter() - started) * 1000)
    return vectors, {**stats(times), "other_processes_cpu_share": timed.other_share}


def measure_index(
    index: QdrantEdgeIndex,
    scopes: Mapping[str, AccessScope],
    questions: Sequence[Question],
    dense_queries: Sequence[Sequence[float]],
) -> Json:
    """The vector index alone through the adapter (query vectors ready), per scope, and with
    no filter at all (the Edge shard queried directly): what the filter itself costs."""
    from kb.text.sparse import SparseEncoder

    encoder = SparseEncoder()
    sparse_queries = [encoder.encode_query(q.text) for q in questions]
    names = [*scopes, "no_filter"]
    times = {name: {"dense": list[float](), "sparse": list[float]()} for name in names}
    limit = _path_limit()

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

    for n in range(min(WARM_UP_QUERIES, len(questions))):
        for name in names:
            query(name, "dense", n)
            query(name, "sparse", n)
    for name in names:
        for path in ("dense", "sparse"):
            times[name][path].clear()
    with Timed() as timed:
        for n in range(len(questions)):
            for name in _rotated(names, n):
                query(name, "dense", n)
                query(name, "sparse", n)
    report: Json = {"other_processes_cpu_share": timed.other_share}
    for name in names:
        report[name] = {path: stats(values) for path, values in times[name].items()}
    report["p50_ratio_vs_no_filter"] = _ratios(report, names, ["dense", "sparse"], "no_filter")
    return report


def _unfiltered(index: QdrantEdgeIndex, path: str, vector: Any, limit: int) -> None:
    import qdrant_edge as edge

    if not isinstance(vector, list):
        vector = edge.SparseVector(
            [int(i) for i in vector.indices], [float(v) for v in vector.values]
        )
    request = edge.QueryRequest(
        limit=limit, query=edge.Query.Nearest(vector, using=path), with_payload=True
    )
    index._shard.query(request)


def optimize_index(index: QdrantEdgeIndex) -> Json:
    """What `kb_optimize` changes: ingestion leaves points in appendable segments without an
    HNSW index (dense search is a full scan) until it runs."""
    with Timed() as timed:
        changed = index.optimize()
    layout = index.layout()
    return {
        "wall_s": round(timed.seconds, 2),
        "changed": changed,
        "segments": layout.segments,
        "indexed_vectors": layout.indexed_vectors,
        "other_processes_cpu_share": timed.other_share,
    }


# The language model and whole answers.


def llm_prompts(retriever: Retriever, scope: AccessScope, count: int) -> list[list[Message]]:
    """answer-v1 prompts with the passages retrieved for the first dev-set questions."""
    from django.conf import settings

    from retrieval.prompting import answer_messages, load_template

    template = load_template(settings.KB_PROMPT_TEMPLATE)
    prompts = []
    for question in _devset_questions()[:count]:
        retrieval = retriever.retrieve(question, scope=scope, allowed=pass_through, top_k=TOP_K)
        prompts.append(answer_messages(template, question, retrieval.passages))
    return prompts


def _devset_questions() -> list[str]:
    path = DEVSET / "retrieval.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return [json.loads(line)["question"] for line in lines if line.strip()]


@dataclass(frozen=True)
class LlmRun:
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: float
    total_ms: float

    @property
    def prompt_tokens_per_s(self) -> float:
        """Prompt evaluation speed: the prompt's tokens over the time to the first token."""
        return self.prompt_tokens * 1000 / self.ttft_ms if self.ttft_ms else 0.0

    @property
    def generation_tokens_per_s(self) -> float:
        """Tokens after the first over the time after the first."""
        generating = self.total_ms - self.ttft_ms
        return (self.completion_tokens - 1) * 1000 / generating if generating > 0 else 0.0

    def as_json(self) -> Json:
        return {
            **asdict(self),
            "prompt_tokens_per_s": round(self.prompt_tokens_per_s, 1),
            "generation_tokens_per_s": round(self.generation_tokens_per_s, 2),
        }


def measure_llm(name: str, prompts: Sequence[list[Message]], *, runs: int) -> Json:
    """Time to first token (whole prompt evaluated: no cached prefix) and generation speed,
    over different prompts after one untimed warm-up."""
    from kb.llm.chat import LlamaCppChat

    with Timed() as loading:
        model = _open_model(name)
    try:
        _llm_run(model, prompts[0])  # warm-up
        with Timed() as running:
            timed = [_llm_run(model, prompt) for prompt in prompts[1 : runs + 1]]
    finally:
        if isinstance(model, LlamaCppChat) and not _is_default(name):
            model.close()
    return {
        "model": name,
        "default": _is_default(name),
        "load_s": round(loading.seconds, 2),
        "other_processes_cpu_share": running.other_share,
        "runs": [r.as_json() for r in timed],
        "prompt_tokens_mean": round(_mean([r.prompt_tokens for r in timed]), 1),
        "completion_tokens_mean": round(_mean([r.completion_tokens for r in timed]), 1),
        "ttft_ms": stats([r.ttft_ms for r in timed]),
        "prompt_tokens_per_s": stats([r.prompt_tokens_per_s for r in timed]),
        "generation_tokens_per_s": stats(
            [r.generation_tokens_per_s for r in timed if r.completion_tokens >= MIN_GENERATED]
        ),
    }


def _llm_run(model: ChatModel, prompt: list[Message]) -> LlmRun:
    from kb.llm.chat import Usage

    usage = Usage()
    _forget_prefix(model)
    started = time.perf_counter()
    first = 0.0
    for _piece in model.stream(prompt, max_tokens=ANSWER_MAX_TOKENS, usage=usage):
        first = first or time.perf_counter()
    ended = time.perf_counter()
    return LlmRun(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        ttft_ms=round(((first or ended) - started) * 1000, 1),
        total_ms=round((ended - started) * 1000, 1),
    )


def _is_default(name: str) -> bool:
    from django.conf import settings

    return bool(name == settings.KB_LLM_MODEL_NAME)


def _open_model(name: str) -> ChatModel:
    """The default through the production factory (kept for the answers); others alike."""
    from django.conf import settings

    from kb.llm.chat import LlamaCppChat
    from kb.llm.factory import chat_model
    from kb.llm.gguf import MODELS, model_path

    if _is_default(name):
        return chat_model()
    return LlamaCppChat(
        model_path(MODELS[name], Path(settings.KB_MODELS_DIR)),
        n_ctx=settings.KB_LLM_N_CTX,
        n_gpu_layers=settings.KB_LLM_N_GPU_LAYERS,
        n_threads=settings.KB_LLM_N_THREADS,
        name=name,
    )


def _forget_prefix(model: ChatModel) -> None:
    """llama-cpp-python reuses the KV cache of the prefix a prompt shares with the previous
    one; the micro-benchmark measures whole prompts."""
    llama = getattr(model, "_llama", None)
    if llama is not None:
        llama.reset()


@dataclass(frozen=True)
class AnswerRun:
    model_called: bool
    refused: bool
    ttft_visible_ms: float  # to the first text piece the caller receives; 0 without the model
    total_ms: float
    prompt_tokens: int
    completion_tokens: int
    stages_ms: dict[str, float]

    @property
    def retrieval_ms(self) -> float:
        return sum(self.stages_ms.get(key, 0.0) for key in [*PATHS, "fuse_check"])


def measure_answers(retriever: Retriever, scope: AccessScope, *, count: int, skip: int) -> Json:
    """The production Answerer (retrieval.factory.default_answerer, with the bench retriever)
    on dev-set questions not used above, until `count` of them reached the model."""
    from django.test import override_settings

    from retrieval.factory import default_answerer

    runs: list[AnswerRun] = []
    with override_settings(KB_ANSWER_MAX_TOKENS=ANSWER_MAX_TOKENS):
        answerer = default_answerer()
        answerer.retriever = retriever
        with Timed() as timed:
            for question in _devset_questions()[skip:]:
                if sum(run.model_called for run in runs) >= count:
                    break
                runs.append(_answer_run(answerer, question, scope))
    called = [run for run in runs if run.model_called]
    return {
        "scope": "staff",
        "other_processes_cpu_share": timed.other_share,
        "questions": len(runs),
        "model_called": len(called),
        "refused_before_model": len(runs) - len(called),
        "said_i_dont_know": sum(run.refused for run in called),
        "ttft_ms": stats([run.stages_ms.get("first_token", 0.0) for run in called]),
        "ttft_visible_ms": stats([run.ttft_visible_ms for run in called]),
        "total_ms": stats([run.total_ms for run in called]),
        "retrieval_ms": stats([run.retrieval_ms for run in called]),
        "prompt_tokens_mean": round(_mean([run.prompt_tokens for run in called]), 1),
        "completion_tokens_mean": round(_mean([run.completion_tokens for run in called]), 1),
        "runs": [asdict(run) for run in runs],
    }


def _answer_run(answerer: Answerer, question: str, scope: AccessScope) -> AnswerRun:
    from retrieval.answerer import Answer

    started = time.perf_counter()
    first = 0.0
    answer: Answer | None = None
    for item in answerer.stream(question, scope=scope, allowed=pass_through, top_k=TOP_K):
        if isinstance(item, Answer):
            answer = item
        else:
            first = first or time.perf_counter()
    ended = time.perf_counter()
    if answer is None:
        raise RuntimeError("the answer stream ended without an answer")
    return AnswerRun(
        model_called=bool(answer.model),
        refused=answer.refused,
        ttft_visible_ms=round((first - started) * 1000, 1) if first else 0.0,
        total_ms=round((ended - started) * 1000, 1),
        prompt_tokens=answer.usage.prompt_tokens,
        completion_tokens=answer.usage.completion_tokens,
        stages_ms=dict(answer.latencies_ms),
    )


# Figures.


def stats(values: Sequence[float]) -> Json:
    import numpy as np

    if not values:
        return {"n": 0}
    p50, p95, p99 = (float(v) for v in np.percentile(values, PERCENTILES))
    return {"n": len(values), "p50": round(p50, 2), "p95": round(p95, 2), "p99": round(p99, 2),
            "mean": round(float(np.mean(values)), 2)}  # fmt: skip


def _ratios(report: Json, names: Sequence[str], keys: Sequence[str], baseline: str) -> Json:
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


def _rotated(items: list[str], n: int) -> list[str]:
    shift = n % len(items)
    return items[shift:] + items[:shift]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _path_limit() -> int:
    from django.conf import settings

    limit: int = settings.KB_RETRIEVAL_PATH_LIMIT
    return limit


def _rss_mb() -> float:
    """Resident memory now (VmRSS)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def summary(report: Json) -> str:
    lines = [f"ms p50/p95/p99 over {report['queries']['count']} queries per scope"]
    for entry in report["sizes"]:
        lines += _size_lines(report, entry)
    for model in report.get("llm", []):
        lines.append(
            f"LLM {model['model']}: load {model['load_s']} s, {model['prompt_tokens_mean']} prompt "
            f"tokens, TTFT {_triple(model['ttft_ms'])} ms, prompt "
            f"{model['prompt_tokens_per_s'].get('p50')} tok/s, generation "
            f"{model['generation_tokens_per_s'].get('p50')} tok/s"
        )
    for entry in report["sizes"]:
        if "answers" in entry:
            answers = entry["answers"]
            lines.append(
                f"answers at {entry['chunks']} chunks ({answers['model_called']} reached the "
                f"model): TTFT {_triple(answers['ttft_ms'])} ms, total "
                f"{_triple(answers['total_ms'])} ms"
            )
    lines.append(f"peak RSS {report['peak_rss_mb']} MB, wall {report['wall_s']} s")
    return "\n".join(lines)


def _size_lines(report: Json, entry: Json) -> list[str]:
    size = str(entry["chunks"])
    graph, search, retrieval = entry["graph"], entry["graph_search"], entry["retrieval"]
    lines = [
        f"{size} chunks; graph {graph['chunks_written']} chunks, {graph['write_ms_per_chunk']} "
        f"ms/chunk to write; fused = {'+'.join(retrieval['paths_run'])}",
        f"  {'scope':<7}{'share':>7}" + "".join(f"{label:>18}" for label in _COLUMNS),
    ]
    for name in SCOPES:
        share = report["acl_layout"]["scopes"][name]["share_of_chunks"][size] * 100
        figures = [retrieval[name]["ms"].get(key, {}) for key in ("dense", "sparse", "retrieve")]
        figures += [search[f"hops_{hops}"][name]["ms"] for hops in (0, 1, 2)]
        lines.append(f"  {name:<7}{share:>6.1f}%" + "".join(f"{_triple(f):>18}" for f in figures))
    failed = {f"hops={h}": search[f"hops_{h}"]["failures"] for h in (0, 1, 2)}
    lines.append(
        f"  graph hops=1,2 on {search['hops_1']['questions']} questions, interrupted after "
        f"{search['timeout_s']} s; failures {failed}"
    )
    for label in ("vector_index", "vector_index_optimized"):
        if label in entry:
            index = entry[label]
            cells = ", ".join(
                f"{name} {index[name]['dense'].get('p50')}/{index[name]['sparse'].get('p50')}"
                for name in ("no_filter", *SCOPES)
            )
            lines.append(f"  {label} p50 dense/sparse: {cells}")
    return lines


_COLUMNS = ("dense", "sparse", "fused", "graph hops=0", "graph hops=1", "graph hops=2")


def _triple(figures: Json) -> str:
    return "/".join(_short(figures.get(f"p{p}")) for p in PERCENTILES)


def _short(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"
