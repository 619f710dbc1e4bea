"""Retrieval quality on a hand-written dev set, per path and fused, against plain BM25; and the
calibration of the refusal thresholds.

- Questions: bench/devset/retrieval.jsonl (each with its gold file and section) and
  bench/devset/unanswerable.jsonl (answers in neither corpus), in English, Chinese, Russian.
- Corpus: every gold file plus, per source, the first `--distractors` pages by sha256 of their
  name (the selection of `bench ingest`); `--full` takes every page. Ingested by our pipeline
  (`document_add` + `ingest_document`) into a temporary KB_DATA_DIR, in one collection that a
  non-staff reader reads through a group; every search runs in `access_scope(reader)`.
- Paths: DenseSearcher, SparseSearcher, GraphSearcher (`--limit` each) run by the production
  `Retriever`, fused by `rrf_fuse` with settings.KB_FUSION_WEIGHTS; evidence for the refusal
  is the Retriever's own (`retrieval.evidence`: best dense cosine among readable dense hits,
  best share of the question's sparse terms in one of the top KB_TOP_K passages).
- bm25s: the same chunk texts, bm25s defaults (Lucene BM25, k1 1.5, b 0.75, token pattern
  `\\w\\w+`, English stopwords) stemmed by Snowball English (snowballstemmer's, the algorithm
  PyStemmer wraps). No segmentation: a run of Chinese characters is one token.
- Relevance is binary. Document level: a chunk counts when its file is a gold file, and a path's
  ranking becomes documents in order of their first chunk. Section level: the unit is (file,
  section) and a chunk counts when the deepest heading of its section path is the gold one.
  recall@k is the share of gold units in the first k units; nDCG@k uses binary gains. A third
  view counts any language edition of a gold handbook page (translations leave passages in
  English, so an English answer can sit in the zh-CN page).

Fusion alternatives (weights, per-path limits, and "script-aware": no dense vote for a question
not in Latin script, since the embedding model is English-only) and the refusal thresholds are
searched on the same run's per-path results, with leave-one-question-out estimates to show how
much of the gain is fitted to these questions. `--candidate` names one set-up to report in full
(metrics as the `fused*` path, refusal calibration) beside the one in settings.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import os
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from unittest import mock

from bench.common.corpus import SOURCES, InputFile, add_files, corpus_summary, select_files
from bench.common.environment import Timed, code_state, machine, setup_django
from kb.text.script import is_latin_script

if TYPE_CHECKING:
    from kb.stores.types import AccessScope
    from retrieval.evidence import Evidence
    from retrieval.types import Candidate

HELP = "retrieval quality per path, fused and plain BM25 on a dev set; refusal calibration"
DEVSET = Path(__file__).resolve().parent / "devset"
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "quality.json"
DEFAULT_DISTRACTORS = 60
DEFAULT_LIMIT = 50
# GraphSearcher's default is 2 hops; on the embedded graph a 2-hop neighbourhood enumerates
# every path (22,865 rows, 37 s and +6.6 GB RSS for one question over 386 chunks), so the
# benchmark runs 1 hop unless asked (README, "Performance").
DEFAULT_GRAPH_HOPS = 1
PATHS = ("dense", "sparse", "graph")
RECALL_K = 5
NDCG_K = 10
COLLECTION = "quality"
READERS = "quality-readers"
# Fusion alternatives: a weight per path from this ladder (proportional settings are one), and
# the number of candidates each path hands to fusion.
WEIGHT_LADDER = (0.0, 0.25, 0.5, 1.0, 2.0)
LIMIT_ALTERNATIVES = (10, 20, 30, 50)
DEFAULT_CANDIDATE = "dense=1,sparse=1,graph=0"
CANDIDATE = "fused*"
Json = dict[str, Any]
T = TypeVar("T")
_EDITION = re.compile(r"^debian-handbook/[^/]+/")


@dataclass(frozen=True)
class Gold:
    source: str
    file: str
    section: str

    @property
    def document(self) -> str:
        """The name `bench ingest` uploads the file under: source/file."""
        return f"{self.source}/{self.file}"


@dataclass(frozen=True)
class Question:
    id: str
    lang: str
    text: str
    gold: tuple[Gold, ...] = ()

    @property
    def group(self) -> str:
        return self.id.split("-", 1)[0]


def load_questions(path: Path) -> list[Question]:
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            gold = tuple(Gold(**entry) for entry in row.get("gold", ()))
            questions.append(Question(row["id"], row["lang"], row["question"], gold))
    return questions


# Metrics. Rankings are lists of unit labels (a document, or a document#section) per chunk, best
# first; a unit counts once, at its first chunk.


def first_occurrences(items: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(items))


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the relevant units among the first k distinct units (0 when none is relevant)."""
    if not relevant:
        return 0.0
    top = set(first_occurrences(ranked)[:k])
    return len(top & set(relevant)) / len(set(relevant))


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Binary-gain nDCG over the first k distinct units; the ideal ranks every relevant unit
    first."""
    wanted = set(relevant)
    if not wanted:
        return 0.0
    gains = [unit in wanted for unit in first_occurrences(ranked)[:k]]
    dcg = sum(1.0 / math.log2(rank + 2) for rank, hit in enumerate(gains) if hit)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(k, len(wanted))))
    return dcg / ideal


def first_rank(ranked: Sequence[str], relevant: Collection[str]) -> int | None:
    """1-based rank of the first relevant distinct unit, None when there is none."""
    wanted = set(relevant)
    for rank, unit in enumerate(first_occurrences(ranked), start=1):
        if unit in wanted:
            return rank
    return None


def reciprocal_rank(ranked: Sequence[str], relevant: Collection[str]) -> float:
    rank = first_rank(ranked, relevant)
    return 1.0 / rank if rank else 0.0


def normalise_title(title: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", title).casefold().split())


ADMONITIONS = frozenset({"note", "tip", "warning", "important", "caution"})


def section_matches(chunk_section: str, gold_section: str) -> bool:
    """The chunker names a section by its heading path ("9.7. Cron > 9.7.1. Format"): it
    matches when the deepest heading is the gold one. Admonition boxes (PostgreSQL's Note, Tip
    ...) are headings of their own in the path; they belong to the heading above them."""
    parts = [normalise_title(part) for part in chunk_section.split(" > ")]
    while parts and parts[-1] in ADMONITIONS:
        parts.pop()
    return bool(parts) and parts[-1] == normalise_title(gold_section)


def any_edition(document: str) -> str:
    """The handbook's editions share file names: en-US, zh-CN and ru-RU pages become one."""
    return _EDITION.sub("debian-handbook/*/", document)


def effective_weights(
    text: str, weights: Mapping[str, float], *, script_aware: bool
) -> dict[str, float]:
    if script_aware and not is_latin_script(text):
        return {**weights, "dense": 0.0}
    return dict(weights)


def parse_weights(text: str) -> dict[str, float]:
    """ "dense=1,sparse=1,graph=0" -> a weight per path (a path left out weighs 0)."""
    weights = dict.fromkeys(PATHS, 0.0)
    for part in text.split(","):
        name, _, value = part.partition("=")
        if name.strip() not in weights:
            raise argparse.ArgumentTypeError(f"unknown path {name!r}: use {', '.join(PATHS)}")
        weights[name.strip()] = float(value)
    return weights


# The corpus and the run.


@dataclass(frozen=True)
class Chunk:
    document: str
    section: str
    text: str


@dataclass
class Corpus:
    chunks: dict[str, Chunk] = field(default_factory=dict)
    ingest: Json = field(default_factory=dict)

    def documents(self, chunk_ids: Iterable[str]) -> list[str]:
        return [self.chunks[cid].document for cid in chunk_ids if cid in self.chunks]

    def sections(self, chunk_ids: Iterable[str], gold: Sequence[Gold]) -> list[str]:
        return [
            self._section_unit(self.chunks[cid], gold) for cid in chunk_ids if cid in self.chunks
        ]

    @staticmethod
    def _section_unit(chunk: Chunk, gold: Sequence[Gold]) -> str:
        for entry in gold:
            if chunk.document == entry.document and section_matches(chunk.section, entry.section):
                return section_unit(entry)
        return f"{chunk.document}#{normalise_title(chunk.section)}"


def section_unit(entry: Gold) -> str:
    return f"{entry.document}#{normalise_title(entry.section)}"


def corpus_files(questions: Sequence[Question], distractors: int | None) -> list[InputFile]:
    """Every gold file, then the deterministic selection of `bench ingest` (`None`: all)."""
    folders = dict(SOURCES)
    gold = [
        InputFile(entry.source, folders[entry.source] / entry.file)
        for question in questions
        for entry in question.gold
    ]
    return list(dict.fromkeys([*gold, *select_files(distractors)]))


@dataclass
class Outcome:
    """One question's per-path chunk rankings and the Retriever's evidence."""

    question: Question
    rankings: dict[str, list[str]]
    evidence: Evidence
    scores: dict[str, list[float]] = field(default_factory=dict)


class CachedSearcher:
    """Runs the wrapped searcher once per question at the largest limit and serves prefixes, so
    fusion alternatives reuse one search. A prefix equals a search at the smaller limit for
    exact rankings (sparse, graph); for HNSW (dense) it is at most as good, never better."""

    def __init__(self, searcher: Any, *, limit: int) -> None:
        self.inner = searcher
        self.name: str = searcher.name
        self.limit = limit
        self.results: dict[str, list[Candidate]] = {}
        self.seconds: list[float] = []

    def search(self, question: str, *, scope: AccessScope, limit: int) -> list[Candidate]:
        if question not in self.results:
            started = time.perf_counter()
            self.results[question] = self.inner.search(question, scope=scope, limit=self.limit)
            self.seconds.append(time.perf_counter() - started)
        return self.results[question][:limit]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--distractors",
        type=int,
        default=DEFAULT_DISTRACTORS,
        help="pages per source besides the gold ones (default %(default)s)",
    )
    parser.add_argument("--full", action="store_true", help="every page of every source")
    parser.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, help="candidates per path (%(default)s)"
    )
    parser.add_argument(
        "--graph-hops",
        type=int,
        default=DEFAULT_GRAPH_HOPS,
        help="GraphSearcher hops (default %(default)s; its own default is 2)",
    )
    parser.add_argument(
        "--candidate",
        type=parse_weights,
        default=parse_weights(DEFAULT_CANDIDATE),
        help=f"fusion weights reported in full as {CANDIDATE!r} (default {DEFAULT_CANDIDATE})",
    )
    parser.add_argument(
        "--candidate-script-aware",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the candidate gives no dense vote to questions not in Latin script",
    )
    parser.add_argument(
        "--candidate-other-script",
        type=float,
        default=1.0,
        help="the candidate's score factor for passages in another script than the question "
        "(default %(default)s: no preference; settings use retrieval.script_preference's factor)",
    )
    parser.add_argument(
        "--ids",
        default="",
        help="comma-separated question id prefixes to keep (development runs), e.g. hb-0,un-1",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON path")


def run(args: argparse.Namespace, *, command: str) -> int:
    answerable = _selected(load_questions(DEVSET / "retrieval.jsonl"), args.ids)
    unanswerable = _selected(load_questions(DEVSET / "unanswerable.jsonl"), args.ids)
    files = corpus_files(answerable, None if args.full else args.distractors)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="quarry-quality-") as tmp:
        report, runs = measure(answerable, unanswerable, files, Path(tmp), args=args)
    report["wall_s_whole_run"] = round(time.perf_counter() - started, 1)
    report["command"] = command
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    runs_path = args.out.with_name(f"{args.out.stem}-runs.json")
    runs_path.write_text(json.dumps(runs, ensure_ascii=False) + "\n")
    print(args.out, runs_path, file=sys.stderr)
    print(summary(report), file=sys.stderr)
    return 0


def _selected(questions: list[Question], prefixes: str) -> list[Question]:
    wanted = tuple(p.strip() for p in prefixes.split(",") if p.strip())
    return [q for q in questions if not wanted or q.id.startswith(wanted)]


def measure(
    answerable: list[Question],
    unanswerable: list[Question],
    files: list[InputFile],
    tmp: Path,
    *,
    args: argparse.Namespace,
) -> tuple[Json, Json]:
    load_before = os.getloadavg()
    setup_django(tmp / "quarry")
    from django.conf import settings

    from kb.stores.factory import close_stores

    corpus = index_corpus(files)
    weights = dict(getattr(settings, "KB_FUSION_WEIGHTS", None) or dict.fromkeys(PATHS, 1.0))
    ask = _asker(limit=args.limit, graph_hops=args.graph_hops)
    with Timed() as timed:
        outcomes = [ask(q, weights, args.limit) for q in [*answerable, *unanswerable]]
    ask.other_script_factor = args.candidate_other_script
    bm25 = Bm25Baseline(corpus)
    for outcome in outcomes:
        outcome.rankings["bm25s"] = bm25.search(outcome.question.text, limit=args.limit)
    candidate = [
        ask(
            o.question,
            effective_weights(
                o.question.text, args.candidate, script_aware=args.candidate_script_aware
            ),
            args.limit,
        )
        for o in outcomes
    ]
    for outcome, other in zip(outcomes, candidate, strict=True):
        outcome.rankings[CANDIDATE] = other.rankings["fused"]
    answered = [o for o in outcomes if o.question.gold]
    alternatives = fusion_alternatives(answered, corpus, limit=args.limit)
    close_stores()
    report = {
        "machine": {**machine(), "load_avg_1m_start_end": [load_before[0], os.getloadavg()[0]]},
        "corpus": {**corpus_summary(files), **corpus.ingest},
        "questions": _question_counts(answerable, unanswerable),
        "setup": {
            **_setup(settings, weights, args.limit),
            "graph_hops": args.graph_hops,
            "candidate": {
                "path_name": CANDIDATE,
                "weights": args.candidate,
                "script_aware": args.candidate_script_aware,
                "other_script_factor": args.candidate_other_script,
            },
        },
        "metrics": path_metrics(answered, corpus),
        "fusion_alternatives": alternatives,
        "refusal": {
            "settings_weights": calibrate(outcomes, settings),
            "candidate": calibrate(candidate, settings),
        },
        "query_seconds": {
            "all_paths_and_evidence_wall": round(timed.seconds, 2),
            "per_question_mean_ms": _latencies(ask, bm25, len(outcomes)),
        },
        "per_question": [_per_question(o, corpus) for o in outcomes],
        "code": code_state(("ingestion", "kb", "retrieval")),
    }
    return report, _runs(outcomes, corpus)


def index_corpus(files: list[InputFile]) -> Corpus:
    """Our pipeline, synchronously, recording every chunk the vector index receives."""
    from ingestion.pipeline import ingest_document
    from kb.models import Document, DocumentStatus
    from kb.stores.factory import vector_index
    from kb.stores.payload import ChunkPayload

    corpus = Corpus()
    index = vector_index()
    upsert = index.upsert

    def recorded(points: Sequence[Any]) -> None:
        for point in points:
            payload = ChunkPayload.from_dict(point.payload)
            corpus.chunks[point.id] = Chunk(str(payload.document_id), payload.section, payload.text)
        upsert(points)

    queued = add_files(COLLECTION, files, reader_groups=[READERS])
    with mock.patch.object(index, "upsert", recorded), Timed() as timed:
        for document_id, version in queued:
            ingest_document(document_id=document_id, version=version, final_try=True)
    names = dict(Document.objects.values_list("id", "source_filename"))
    corpus.chunks = {
        cid: Chunk(names[int(c.document)], c.section, c.text) for cid, c in corpus.chunks.items()
    }
    failed = Document.objects.filter(status=DocumentStatus.FAILED)
    corpus.ingest = {
        "documents_indexed": Document.objects.filter(status=DocumentStatus.INDEXED).count(),
        "documents_failed": [{"file": d.source_filename, "error": d.error} for d in failed],
        "chunks": len(corpus.chunks),
        "ingest_wall_s": round(timed.seconds, 1),
        "ingest_other_processes_cpu_share": timed.other_share,
    }
    return corpus


class Asker:
    """Runs the production Retriever (cached searchers) for one question and one fusion setup."""

    def __init__(
        self,
        searchers: list[CachedSearcher],
        *,
        scope: AccessScope,
        allowed: Callable[[set[int]], set[int]],
    ) -> None:
        from django.conf import settings

        from kb.stores.factory import vector_index
        from kb.text.sparse import SparseEncoder
        from retrieval.script_preference import OTHER_SCRIPT_FACTOR

        self.searchers = searchers
        self.scope = scope
        self.allowed = allowed
        self.index = vector_index()
        self.encoder = SparseEncoder()
        self.top_k: int = getattr(settings, "KB_TOP_K", RECALL_K)
        self.other_script_factor = OTHER_SCRIPT_FACTOR  # the production ranking

    def __call__(self, question: Question, weights: Mapping[str, float], limit: int) -> Outcome:
        from retrieval.retriever import Retriever

        retriever = Retriever(
            searchers=self.searchers,
            index=self.index,
            weights=weights,
            path_limit=limit,
            encoder=self.encoder,
            other_script_factor=self.other_script_factor,
        )
        found = retriever.retrieve(
            question.text, scope=self.scope, allowed=self.allowed, top_k=self.top_k
        )
        fused = retriever.rank(question.text, found.per_path)
        rankings = {path: [c.chunk_id for c in found.per_path.get(path, [])] for path in PATHS}
        rankings["fused"] = [c.chunk_id for c in fused]
        scores = {path: [c.score for c in found.per_path.get(path, [])] for path in PATHS}
        return Outcome(question, rankings, found.evidence, scores)


def _asker(*, limit: int, graph_hops: int) -> Asker:
    """A non-staff reader of the collection, through a group, and the three searchers."""
    from django.conf import settings
    from django.contrib.auth.models import Group, User

    from kb.access import access_scope, readable_document_ids
    from kb.stores.factory import graph_store, vector_index
    from kb.text.embeddings import load_embedder
    from kb.text.sparse import SparseEncoder
    from retrieval.searchers import DenseSearcher, GraphSearcher, SparseSearcher

    reader = User.objects.create_user(username="quality-reader")
    reader.groups.add(Group.objects.get(name=READERS))
    index = vector_index()
    searchers = [
        DenseSearcher(index, load_embedder(settings.KB_EMBED_MODEL)),
        SparseSearcher(index, SparseEncoder()),
        GraphSearcher(graph_store(), hops=graph_hops),
    ]
    return Asker(
        [CachedSearcher(s, limit=limit) for s in searchers],
        scope=access_scope(reader),
        allowed=lambda ids: readable_document_ids(reader, ids),
    )


class Bm25Baseline:
    """bm25s over exactly our chunk texts."""

    def __init__(self, corpus: Corpus) -> None:
        import bm25s
        import snowballstemmer

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.ids = list(corpus.chunks)
        self.stemmer = snowballstemmer.stemmer("english")
        with _quiet():
            tokens = bm25s.tokenize(
                [corpus.chunks[cid].text for cid in self.ids],
                stopwords="en",
                stemmer=self.stemmer,
                show_progress=False,
            )
            self.model = bm25s.BM25()
            self.model.index(tokens, show_progress=False)
        self.vocabulary = set(self.model.vocab_dict)
        self.seconds: list[float] = []

    def search(self, question: str, *, limit: int) -> list[str]:
        import bm25s

        started = time.perf_counter()
        with _quiet():
            words = bm25s.tokenize(
                [question],
                stopwords="en",
                stemmer=self.stemmer,
                return_ids=False,
                show_progress=False,
            )
        known = [[w for w in words[0] if w in self.vocabulary]]
        if not known[0]:
            self.seconds.append(time.perf_counter() - started)
            return []
        with _quiet():
            documents, scores = self.model.retrieve(
                known, k=min(limit, len(self.ids)), show_progress=False
            )
        self.seconds.append(time.perf_counter() - started)
        return [
            self.ids[int(d)] for d, s in zip(documents[0], scores[0], strict=True) if float(s) > 0
        ]


@contextmanager
def _quiet() -> Iterator[None]:
    """bm25s logs its progress on stdout even with show_progress off in some paths."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        yield


# Metrics over a run.


def question_scores(question: Question, ranking: Sequence[str], corpus: Corpus) -> dict[str, float]:
    documents = corpus.documents(ranking)
    gold_documents = {entry.document for entry in question.gold}
    sections = corpus.sections(ranking, question.gold)
    gold_sections = {section_unit(entry) for entry in question.gold}
    editions = {any_edition(entry.document) for entry in question.gold}
    return {
        "doc_recall@5": recall_at_k(documents, gold_documents, RECALL_K),
        "doc_ndcg@10": ndcg_at_k(documents, gold_documents, NDCG_K),
        "doc_mrr": reciprocal_rank(documents, gold_documents),
        "section_recall@5": recall_at_k(sections, gold_sections, RECALL_K),
        "section_ndcg@10": ndcg_at_k(sections, gold_sections, NDCG_K),
        "section_mrr": reciprocal_rank(sections, gold_sections),
        "any_edition_recall@5": recall_at_k(
            [any_edition(d) for d in documents], editions, RECALL_K
        ),
        "any_edition_ndcg@10": ndcg_at_k([any_edition(d) for d in documents], editions, NDCG_K),
    }


def _mean_scores(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    if not rows:
        return {}
    return {key: round(statistics.fmean(row[key] for row in rows), 3) for key in rows[0]}


def path_metrics(outcomes: Sequence[Outcome], corpus: Corpus) -> Json:
    """Mean scores per path, overall and per question group (hb, pg, zh, ru), and how often
    fused wins or loses against each path question by question (doc-level nDCG@10)."""
    paths = list(outcomes[0].rankings) if outcomes else []
    scored = {
        path: [question_scores(o.question, o.rankings[path], corpus) for o in outcomes]
        for path in paths
    }
    groups = sorted({o.question.group for o in outcomes})
    by_group = {
        group: {
            path: _mean_scores(
                [
                    s
                    for s, o in zip(scored[path], outcomes, strict=True)
                    if o.question.group == group
                ]
            )
            for path in paths
        }
        for group in groups
    }
    return {
        "all": {path: _mean_scores(rows) for path, rows in scored.items()},
        "by_group": by_group,
        "group_sizes": {g: sum(o.question.group == g for o in outcomes) for g in groups},
        "wins_ties_losses_doc_ndcg": {
            fused: {path: _wins(scored[fused], scored[path]) for path in paths if path != fused}
            for fused in ("fused", CANDIDATE)
            if fused in scored
        },
    }


def _wins(fused: Sequence[Mapping[str, float]], other: Sequence[Mapping[str, float]]) -> list[int]:
    pairs = [(f["doc_ndcg@10"], o["doc_ndcg@10"]) for f, o in zip(fused, other, strict=True)]
    return [
        sum(f > o for f, o in pairs),
        sum(f == o for f, o in pairs),
        sum(f < o for f, o in pairs),
    ]


# Fusion alternatives.


def weight_grid() -> list[dict[str, float]]:
    """Every weight triple from the ladder, once per ratio (RRF ranks do not change when all
    weights are scaled) and scaled so the largest weight is 1, at least one path on."""
    seen: set[tuple[float, ...]] = set()
    grid = []
    for triple in itertools.product(WEIGHT_LADDER, repeat=len(PATHS)):
        top = max(triple)
        if top == 0:
            continue
        ratio = tuple(round(w / top, 4) for w in triple)
        if ratio not in seen:
            seen.add(ratio)
            grid.append(dict(zip(PATHS, ratio, strict=True)))
    return grid


@dataclass(frozen=True)
class Setup:
    """One fusion alternative: weights (scaled so the largest is 1), candidates per path, and
    whether questions not in Latin script get no dense vote."""

    weights: dict[str, float]
    limit: int
    script_aware: bool

    def row(self, scores: Sequence[tuple[float, float]]) -> Json:
        return {
            "weights": self.weights,
            "limit": self.limit,
            "script_aware": self.script_aware,
            **_means(scores),
        }


def fused_doc_scores(
    outcomes: Sequence[Outcome], corpus: Corpus, setup: Setup
) -> list[tuple[float, float]]:
    """(nDCG@10, recall@5) at document level per question, for one fusion set-up."""
    from retrieval.fusion import rrf_fuse
    from retrieval.script_preference import prefer_question_script

    rows = []
    for outcome in outcomes:
        weights = effective_weights(
            outcome.question.text, setup.weights, script_aware=setup.script_aware
        )
        per_path = {
            path: [_candidate(cid, corpus) for cid in outcome.rankings[path][: setup.limit]]
            for path in PATHS
            if weights.get(path, 0.0) > 0
        }
        ranked = prefer_question_script(outcome.question.text, rrf_fuse(per_path, weights=weights))
        fused = [c.chunk_id for c in ranked]
        documents = corpus.documents(fused)
        gold = {entry.document for entry in outcome.question.gold}
        rows.append((ndcg_at_k(documents, gold, NDCG_K), recall_at_k(documents, gold, RECALL_K)))
    return rows


def _candidate(chunk_id: str, corpus: Corpus) -> Any:
    """A ranked chunk with the text the production ranking reads (its script)."""
    from kb.stores.payload import ChunkPayload
    from retrieval.types import Candidate

    chunk = corpus.chunks.get(chunk_id)
    if chunk is None:
        return Candidate(chunk_id, 0, 0.0)
    payload = ChunkPayload(
        chunk_id=chunk_id, document_id=0, collection_id=0, acl=(), text=chunk.text
    )
    return Candidate(chunk_id, 0, 0.0, payload)


def fusion_alternatives(outcomes: Sequence[Outcome], corpus: Corpus, *, limit: int) -> Json:
    """Every weight ratio of the grid at every per-path limit, script-aware or not; the best
    by mean nDCG@10 (ties: recall@5, then the fewest departures from equal weights, the largest
    limit). The leave-one-question-out score re-selects without each question and scores it
    with the winner: what tuning is worth on a question it has not seen."""
    setups = [
        Setup(weights, size, aware)
        for aware in (False, True)
        for weights in weight_grid()
        for size in LIMIT_ALTERNATIVES
        if size <= limit
    ]
    table = [fused_doc_scores(outcomes, corpus, setup) for setup in setups]
    families = {
        "any": list(range(len(setups))),
        "plain": [i for i, s in enumerate(setups) if not s.script_aware],
        "script_aware": [i for i, s in enumerate(setups) if s.script_aware],
    }
    return {
        "grid": {
            "weights": list(WEIGHT_LADDER),
            "limits": list(LIMIT_ALTERNATIVES),
            "setups": len(setups),
        },
        "best": {
            name: {
                **setups[_select(setups, table, members)].row(
                    table[_select(setups, table, members)]
                ),
                "leave_one_out": _means(_held_out(setups, table, members)),
            }
            for name, members in families.items()
        },
        "top": [
            setups[i].row(table[i])
            for i in sorted(families["any"], key=lambda i: _key(setups[i], table[i]))[-15:][::-1]
        ],
        "named": {
            f"{name}{'+script_aware' if setup.script_aware else ''}": setup.row(scores)
            for name, wanted in _NAMED.items()
            for setup, scores in zip(setups, table, strict=True)
            if _same_ratio(setup.weights, wanted) and setup.limit == limit
        },
    }


def _key(setup: Setup, rows: Sequence[tuple[float, float]]) -> tuple[float, ...]:
    departures = sum(w != 1.0 for w in setup.weights.values())
    ndcg = statistics.fmean(r[0] for r in rows) if rows else 0.0
    recall = statistics.fmean(r[1] for r in rows) if rows else 0.0
    return (round(ndcg, 6), round(recall, 6), -departures, setup.limit)


def _select(
    setups: Sequence[Setup],
    table: Sequence[Sequence[tuple[float, float]]],
    members: Sequence[int],
    *,
    without: int | None = None,
) -> int:
    def key(i: int) -> tuple[float, ...]:
        return _key(setups[i], [r for j, r in enumerate(table[i]) if j != without])

    return max(members, key=key)


def _held_out(
    setups: Sequence[Setup], table: Sequence[Sequence[tuple[float, float]]], members: Sequence[int]
) -> list[tuple[float, float]]:
    questions = len(table[0]) if table else 0
    return [table[_select(setups, table, members, without=q)][q] for q in range(questions)]


_NAMED = {
    "equal": {"dense": 1.0, "sparse": 1.0, "graph": 1.0},
    "graph_half": {"dense": 1.0, "sparse": 1.0, "graph": 0.5},
    "graph_quarter": {"dense": 1.0, "sparse": 1.0, "graph": 0.25},
    "no_graph": {"dense": 1.0, "sparse": 1.0, "graph": 0.0},
    "dense_only": {"dense": 1.0, "sparse": 0.0, "graph": 0.0},
    "sparse_only": {"dense": 0.0, "sparse": 1.0, "graph": 0.0},
    "graph_only": {"dense": 0.0, "sparse": 0.0, "graph": 1.0},
}


def _same_ratio(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    top_a, top_b = max(a.values()), max(b.values())
    return all(math.isclose(a[p] / top_a, b[p] / top_b) for p in PATHS)


def _means(rows: Sequence[tuple[float, float]]) -> dict[str, float]:
    return {
        "doc_ndcg@10": round(statistics.fmean(r[0] for r in rows), 3) if rows else 0.0,
        "doc_recall@5": round(statistics.fmean(r[1] for r in rows), 3) if rows else 0.0,
    }


# Refusal calibration.


def calibrate(outcomes: Sequence[Outcome], settings: Any) -> Json:
    """Distributions of the two evidence signals, the thresholds that best separate answerable
    from unanswerable questions (refuse iff dense < T_d and coverage < T_c; the smallest mean of
    false-refusal and false-answer rates, then the fewest false refusals), and the rates at the
    thresholds in settings."""
    samples = [(o.evidence.dense, o.evidence.coverage, bool(o.question.gold)) for o in outcomes]
    current = (
        float(getattr(settings, "KB_REFUSAL_MIN_DENSE", 0.0)),
        float(getattr(settings, "KB_REFUSAL_MIN_COVERAGE", 0.0)),
    )
    other = (
        float(getattr(settings, "KB_REFUSAL_OTHER_MIN_DENSE", current[0])),
        float(getattr(settings, "KB_REFUSAL_OTHER_MIN_COVERAGE", current[1])),
    )
    best = best_thresholds(samples)
    return {
        "distributions": {
            "answerable": _distribution([s for s in samples if s[2]]),
            "unanswerable": _distribution([s for s in samples if not s[2]]),
        },
        "best": {"dense": best[0], "coverage": best[1], **refusal_rates(samples, best)},
        "leave_one_out": _loo_rates(samples),
        "settings": {
            "dense": current[0],
            "coverage": current[1],
            "other_script_dense": other[0],
            "other_script_coverage": other[1],
            **_rates_per_script(outcomes, current, other),
        },
        "dense_only": _single_best(samples, 0),
        "coverage_only": _single_best(samples, 1),
        "by_script": _by_script(outcomes),
        "errors_at_best": _errors(outcomes, best),
        "errors_at_settings": _errors(outcomes, current, other),
    }


Sample = tuple[float, float, bool]  # dense, coverage, answerable


def _rates_per_script(
    outcomes: Sequence[Outcome], latin: tuple[float, float], other: tuple[float, float]
) -> Json:
    """Rates when Latin-script questions use one pair of thresholds and the others another,
    as production does: each sample's values are scaled by its own thresholds, then judged
    against (1, 1)."""
    samples = []
    for o in outcomes:
        dense, coverage = latin if o.evidence.latin_script else other
        samples.append(
            (
                _ratio(o.evidence.dense, dense),
                _ratio(o.evidence.coverage, coverage),
                bool(o.question.gold),
            )
        )
    return refusal_rates(samples, (1.0, 1.0))


def _ratio(value: float, threshold: float) -> float:
    return value / threshold if threshold > 0 else math.inf


def _by_script(outcomes: Sequence[Outcome]) -> Json:
    """Cosine similarities of an English-only model sit on another scale for Chinese and
    Russian questions: thresholds fitted per script, to show whether one pair fits both."""
    result = {}
    for name, latin in (("latin", True), ("other", False)):
        samples = [
            (o.evidence.dense, o.evidence.coverage, bool(o.question.gold))
            for o in outcomes
            if is_latin_script(o.question.text) is latin
        ]
        if samples:
            best = best_thresholds(samples)
            result[name] = {
                "questions": len(samples),
                "best": {"dense": best[0], "coverage": best[1], **refusal_rates(samples, best)},
                "leave_one_out": _loo_rates(samples),
            }
    return result


def candidate_thresholds(values: Iterable[float]) -> list[float]:
    """Midpoints between neighbouring observed values, and one below / above them all: a
    threshold halfway between two questions is the least fitted to either."""
    ordered = sorted(set(values))
    if not ordered:
        return [0.0]
    mids = [round((a + b) / 2, 4) for a, b in itertools.pairwise(ordered)]
    return [round(ordered[0] - 0.01, 4), *mids, round(ordered[-1] + 0.01, 4)]


def refusal_rates(samples: Sequence[Sample], thresholds: tuple[float, float]) -> Json:
    refused = [d < thresholds[0] and c < thresholds[1] for d, c, _ in samples]
    answerable = [r for r, s in zip(refused, samples, strict=True) if s[2]]
    unanswerable = [r for r, s in zip(refused, samples, strict=True) if not s[2]]
    false_refusal = sum(answerable) / len(answerable) if answerable else 0.0
    false_answer = (
        (len(unanswerable) - sum(unanswerable)) / len(unanswerable) if unanswerable else 0.0
    )
    return {
        "false_refusal_rate": round(false_refusal, 3),
        "false_answer_rate": round(false_answer, 3),
        "false_refusals": sum(answerable),
        "false_answers": len(unanswerable) - sum(unanswerable),
    }


def best_thresholds(samples: Sequence[Sample]) -> tuple[float, float]:
    def cost(pair: tuple[float, float]) -> tuple[float, float]:
        rates = refusal_rates(samples, pair)
        frr, far = rates["false_refusal_rate"], rates["false_answer_rate"]
        return ((frr + far) / 2, frr)

    pairs = itertools.product(
        candidate_thresholds(s[0] for s in samples), candidate_thresholds(s[1] for s in samples)
    )
    return min(pairs, key=cost)


def _loo_rates(samples: Sequence[Sample]) -> Json:
    """Each question judged by thresholds fitted without it."""
    judged = []
    for i, sample in enumerate(samples):
        dense, coverage = best_thresholds([s for j, s in enumerate(samples) if j != i])
        judged.append((sample, sample[0] < dense and sample[1] < coverage))
    answerable = [refused for s, refused in judged if s[2]]
    unanswerable = [refused for s, refused in judged if not s[2]]
    return {
        "false_refusal_rate": round(sum(answerable) / max(len(answerable), 1), 3),
        "false_answer_rate": round(
            (len(unanswerable) - sum(unanswerable)) / max(len(unanswerable), 1), 3
        ),
    }


def _single_best(samples: Sequence[Sample], which: int) -> Json:
    """One signal alone (the other threshold out of play)."""
    values = candidate_thresholds(s[which] for s in samples)
    pairs = [(t, math.inf) if which == 0 else (math.inf, t) for t in values]

    def cost(pair: tuple[float, float]) -> tuple[float, float]:
        rates = refusal_rates(samples, pair)
        frr, far = rates["false_refusal_rate"], rates["false_answer_rate"]
        return ((frr + far) / 2, frr)

    pair = min(pairs, key=cost)
    return {"threshold": pair[which], **refusal_rates(samples, pair)}


def _distribution(samples: Sequence[Sample]) -> Json:
    def quantiles(values: list[float]) -> Json:
        if not values:
            return {}
        cuts = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        return {
            "min": round(min(values), 3),
            "q1": round(cuts[0], 3),
            "median": round(cuts[1], 3),
            "q3": round(cuts[2], 3),
            "max": round(max(values), 3),
        }

    return {
        "n": len(samples),
        "dense": quantiles([s[0] for s in samples]),
        "coverage": quantiles([s[1] for s in samples]),
    }


def _errors(
    outcomes: Sequence[Outcome],
    thresholds: tuple[float, float],
    other_script: tuple[float, float] | None = None,
) -> Json:
    """Question ids judged wrongly; `other_script` thresholds apply to non-Latin questions."""
    refused = {}
    for o in outcomes:
        dense, coverage = thresholds
        if other_script is not None and not o.evidence.latin_script:
            dense, coverage = other_script
        refused[o.question.id] = o.evidence.dense < dense and o.evidence.coverage < coverage
    return {
        "false_refusals": [
            o.question.id for o in outcomes if o.question.gold and refused[o.question.id]
        ],
        "false_answers": [
            o.question.id for o in outcomes if not o.question.gold and not refused[o.question.id]
        ],
    }


# Report.


def _question_counts(answerable: Sequence[Question], unanswerable: Sequence[Question]) -> Json:
    counts: defaultdict[str, int] = defaultdict(int)
    for question in answerable:
        counts[question.group] += 1
    return {
        "answerable": len(answerable),
        "answerable_by_group": dict(sorted(counts.items())),
        "unanswerable": len(unanswerable),
        "unanswerable_by_lang": {
            lang: sum(q.lang == lang for q in unanswerable)
            for lang in sorted({q.lang for q in unanswerable})
        },
        "files": ["bench/devset/retrieval.jsonl", "bench/devset/unanswerable.jsonl"],
    }


def _setup(settings: Any, weights: Mapping[str, float], limit: int) -> Json:
    return {
        "paths": list(PATHS),
        "limit_per_path": limit,
        "fusion": "retrieval.fusion.rrf_fuse (k=60)",
        "fusion_weights": dict(weights),
        "weights_from": "settings.KB_FUSION_WEIGHTS"
        if hasattr(settings, "KB_FUSION_WEIGHTS")
        else "equal (no setting)",
        "top_k_passages_for_evidence": getattr(settings, "KB_TOP_K", RECALL_K),
        "embedding_model": settings.KB_EMBED_MODEL,
        "graph_extractor": getattr(settings, "KB_GRAPH_EXTRACTOR", "rules"),
        "user": "non-staff reader of the collection through a group; access_scope(user)",
        "bm25s": "bm25s.BM25() defaults (lucene, k1=1.5, b=0.75), bm25s.tokenize defaults "
        "(lowercase, \\w\\w+, English stopwords), Snowball English stemmer (snowballstemmer)",
        "relevance": {
            "document": "chunk's file is a gold file; documents ranked by their first chunk",
            "section": "chunk's file is a gold file and the deepest heading of its section path "
            "(admonitions such as Note skipped) is the gold heading (NFKC, casefolded); units "
            "are (file, section)",
        },
    }


def _latencies(ask: Asker, bm25: Bm25Baseline, questions: int) -> dict[str, float]:
    rows = {s.name: s.seconds for s in ask.searchers}
    rows["bm25s"] = bm25.seconds
    return {name: round(1000 * sum(v) / max(questions, 1), 1) for name, v in rows.items()}


def _per_question(outcome: Outcome, corpus: Corpus) -> Json:
    question = outcome.question
    gold_documents = {entry.document for entry in question.gold}
    gold_sections = {section_unit(entry) for entry in question.gold}
    row: Json = {
        "id": question.id,
        "lang": question.lang,
        "question": question.text,
        "gold": [entry.document + "#" + entry.section for entry in question.gold],
        "evidence": {
            "dense": round(outcome.evidence.dense, 4),
            "coverage": round(outcome.evidence.coverage, 4),
        },
        "paths": {},
    }
    for path, ranking in outcome.rankings.items():
        documents = corpus.documents(ranking)
        row["paths"][path] = {
            "hits": len(ranking),
            "doc_rank": first_rank(documents, gold_documents) if question.gold else None,
            "section_rank": first_rank(corpus.sections(ranking, question.gold), gold_sections)
            if question.gold
            else None,
            "top5": first_occurrences(documents)[:RECALL_K],
        }
    return row


def _runs(outcomes: Sequence[Outcome], corpus: Corpus) -> Json:
    """Everything needed to re-score without re-indexing: chunk table and rankings."""
    return {
        "chunks": {cid: [c.document, c.section, c.text] for cid, c in corpus.chunks.items()},
        "questions": [
            {
                "id": o.question.id,
                "rankings": o.rankings,
                "scores": {p: [round(s, 5) for s in v] for p, v in o.scores.items()},
                "evidence": [o.evidence.dense, o.evidence.coverage],
            }
            for o in outcomes
        ],
    }


def summary(report: Json) -> str:
    metrics = report["metrics"]["all"]
    lines = [
        f"corpus: {report['corpus']['files']} files, {report['corpus']['chunks']} chunks; "
        f"{report['questions']['answerable']} answerable + "
        f"{report['questions']['unanswerable']} unanswerable questions",
        f"{'path':<8} {'doc R@5':>8} {'doc nDCG@10':>12} {'doc MRR':>8} "
        f"{'sec R@5':>8} {'sec nDCG@10':>12} {'any-ed R@5':>11} {'any-ed nDCG':>12}",
    ]
    for path, row in metrics.items():
        lines.append(
            f"{path:<8} {row['doc_recall@5']:>8.3f} {row['doc_ndcg@10']:>12.3f} "
            f"{row['doc_mrr']:>8.3f} {row['section_recall@5']:>8.3f} "
            f"{row['section_ndcg@10']:>12.3f} {row['any_edition_recall@5']:>11.3f} "
            f"{row['any_edition_ndcg@10']:>12.3f}"
        )
    lines.append("doc nDCG@10 per group: " + _group_line(report["metrics"]["by_group"]))
    for family, best in report["fusion_alternatives"]["best"].items():
        lines.append(
            f"best fusion ({family}): weights {best['weights']} limit {best['limit']} "
            f"script-aware {best['script_aware']}: nDCG@10 {best['doc_ndcg@10']}, R@5 "
            f"{best['doc_recall@5']} (leave-one-out {best['leave_one_out']})"
        )
    for name, result in report["refusal"].items():
        best, now = result["best"], result["settings"]
        lines.append(
            f"refusal ({name}): best T_dense {best['dense']} T_coverage {best['coverage']}: "
            f"false refusals {best['false_refusal_rate']}, false answers "
            f"{best['false_answer_rate']}; settings ({now['dense']}, {now['coverage']}): "
            f"{now['false_refusal_rate']} / {now['false_answer_rate']}"
        )
    return "\n".join(lines)


def _group_line(by_group: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str:
    parts = []
    for group, paths in by_group.items():
        cells = ", ".join(f"{p} {m['doc_ndcg@10']:.2f}" for p, m in paths.items())
        parts.append(f"{group}: {cells}")
    return "; ".join(parts)
