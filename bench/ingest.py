"""Ingestion throughput of our pipeline against two baselines, on the same HTML files.

- ours: `kb.services.documents.document_add` then `ingestion.pipeline.ingest_document` (what
  the Celery task runs), synchronously, on the embedded stack (SQLite, Qdrant Edge, embedded
  graph) in a temporary KB_DATA_DIR. Stages are timed by wrapping pipeline functions
  (exclusive time).
- raw_encode: sentence-transformers `encode_document` on exactly the chunk texts ours produced,
  same model folder and batch size, one call for all of them: the bound on this machine.
- llamaindex_default: `SimpleDirectoryReader` -> `IngestionPipeline([SentenceSplitter(),
  HuggingFaceEmbedding(<same folder>)], vector_store=QdrantVectorStore(local QdrantClient))`,
  all defaults. SimpleDirectoryReader has no HTML reader (it would embed the markup), so .html
  goes through a BeautifulSoup get_text reader, scripts and styles removed.
- llamaindex_our_chunks: the same, with `SentenceSplitter` at our chunk size and overlap
  (`ingestion.chunk.CHUNK_TOKENS`, `OVERLAP_TOKENS`): the defaults' 1024-token chunks are 3x
  fewer, and the model reads only their first 256 word pieces, so per file only this run
  compares like with like.

Model loading and a warm-up run on one file per source are outside every timed section.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from unittest import mock

from bench.common.corpus import InputFile, add_files, corpus_summary, select_files
from bench.common.environment import Timed, code_state, machine, peak_rss_mb, setup_django

HELP = "ingestion throughput: our pipeline vs raw encode vs llama-index defaults"
DEFAULT_FILES = 40
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "ingest.json"
TARGETS = {"ours_vs_raw_encode": 0.7, "ours_vs_llamaindex": 1.0}
Json = dict[str, Any]
P = ParamSpec("P")
R = TypeVar("R")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--files", type=int, default=DEFAULT_FILES, help="files per source (default %(default)s)"
    )
    parser.add_argument("--full", action="store_true", help="every file of every source")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON path")


def run(args: argparse.Namespace, *, command: str) -> int:
    files = select_files(None if args.full else args.files)
    with tempfile.TemporaryDirectory(prefix="quarry-bench-") as tmp:
        report = measure(files, Path(tmp), command=command)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(args.out, file=sys.stderr)
    print(summary(report), file=sys.stderr)
    return 0


def measure(files: list[InputFile], tmp: Path, *, command: str) -> Json:
    load_before = os.getloadavg()
    setup_django(tmp / "quarry")
    from ingestion.chunk import CHUNK_TOKENS, OVERLAP_TOKENS

    ours, texts = _ours(files)
    raw = _raw_encode(texts)
    llama = _llamaindex(files, tmp / "llama-qdrant")
    llama_ours = _llamaindex(
        files, tmp / "llama-qdrant-ours", chunking=(CHUNK_TOKENS, OVERLAP_TOKENS)
    )
    from kb.stores.factory import close_stores

    close_stores()  # release the embedded stores' folder locks before the folder goes
    return {
        # Context only (this run itself adds about the core count to the load); each timed part's
        # other_processes_cpu_share says whether other work shared the cores.
        "machine": {**machine(), "load_avg_1m_start_end": [load_before[0], os.getloadavg()[0]]},
        "corpus": corpus_summary(files),
        "ours": ours,
        "raw_encode": raw,
        "llamaindex_default": llama,
        "llamaindex_our_chunks": llama_ours,
        "ratios": {
            "ours_vs_raw_encode": _ratio(ours["chunks_per_s"], raw["chunks_per_s"]),
            "ours_vs_llamaindex_files": _ratio(ours["files_per_s"], llama["files_per_s"]),
            "ours_vs_llamaindex_chunks": _ratio(ours["chunks_per_s"], llama["chunks_per_s"]),
            "ours_vs_llamaindex_our_chunks_files": _ratio(
                ours["files_per_s"], llama_ours["files_per_s"]
            ),
        },
        "targets": TARGETS,
        "peak_rss_mb_whole_run": peak_rss_mb(),
        "command": command,
        "code": code_state(),
    }


class StageClock:
    """Exclusive seconds per wrapped function (time in a nested wrapped call is its own), per
    thread: stages that ran off the main thread, overlapping it, are named "... (background)"."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self._local = threading.local()
        self._lock = threading.Lock()

    def wrap(self, name: str, fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            children: list[float] = self._local.__dict__.setdefault("children", [])
            children.append(0.0)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                own = elapsed - children.pop()
                if children:
                    children[-1] += elapsed
                main = threading.current_thread() is threading.main_thread()
                with self._lock:
                    self.seconds[name if main else f"{name} (background)"] += own

        return timed

    def main_thread_seconds(self) -> float:
        return sum(v for k, v in self.seconds.items() if not k.endswith("(background)"))


@contextmanager
def _instrumented(clock: StageClock, embedded: list[list[str]]) -> Iterator[None]:
    from ingestion import pipeline, progress
    from kb.stores.factory import graph_store, vector_index

    def recorded(document_id: int, texts: list[str], *, model: str) -> list[list[float]]:
        embedded.append(list(texts))
        return embed(document_id, texts, model=model)

    embed = pipeline._embed
    targets: list[tuple[object, str, str]] = [
        (pipeline, "parse_document", "parse"),
        (pipeline, "chunk_elements", "chunk"),
        (pipeline, "_embed", "embed"),
        (pipeline, "_points", "sparse_and_payload"),
        (pipeline, "_graph_chunk", "entities"),  # per chunk, or per document below
        (pipeline, "_graph_chunks", "entities"),
        (pipeline, "_write_graph", "write_graph"),  # the graph thread's whole task, if any
        (vector_index(), "upsert", "write_vectors"),
        (graph_store(), "upsert_chunks", "write_graph"),
        (pipeline, "_commit", "commit"),
        (progress, "report", "progress_updates"),
    ]
    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(pipeline, "_embed", recorded))
        for owner, attribute, stage in targets:
            if hasattr(owner, attribute):  # the pipeline's helpers change; time what exists
                wrapped = clock.wrap(stage, getattr(owner, attribute))
                stack.enter_context(mock.patch.object(owner, attribute, wrapped))
        yield


def _ours(files: list[InputFile]) -> tuple[Json, list[list[str]]]:
    from django.conf import settings

    from ingestion.pipeline import ingest_document
    from kb.models import Document, DocumentStatus
    from kb.text.embeddings import load_embedder

    started = time.perf_counter()
    load_embedder(settings.KB_EMBED_MODEL, models_dir=Path(settings.KB_MODELS_DIR))
    for document_id, version in add_files("bench-warm-up", _first_of_each_source(files)):
        ingest_document(document_id=document_id, version=version, final_try=True)
    warm_up = time.perf_counter() - started

    started = time.perf_counter()
    queued = add_files("bench", files)
    add_seconds = time.perf_counter() - started
    clock, embedded = StageClock(), list[list[str]]()
    outcomes: Counter[str] = Counter()
    with _instrumented(clock, embedded), Timed() as timed:
        for document_id, version in queued:
            outcome = ingest_document(document_id=document_id, version=version, final_try=True)
            outcomes[outcome] += 1
    wall = timed.seconds
    rss = peak_rss_mb()

    documents = Document.objects.filter(collection__name="bench")
    failed = documents.filter(status=DocumentStatus.FAILED)
    chunks = sum(d.chunk_count for d in documents)
    pages = sum(d.page_count for d in documents)
    stages = {k: round(v, 2) for k, v in sorted(clock.seconds.items(), key=lambda kv: -kv[1])}
    # On the main thread, "other" includes waiting for a background graph thread to finish.
    stages["other"] = round(wall - clock.main_thread_seconds(), 2)
    return {
        "wall_s": round(wall, 2),
        "other_processes_cpu_share": timed.other_share,
        "files": len(queued),
        "files_indexed": outcomes["indexed"],
        "files_failed": failed.count(),
        "failures": [{"file": d.source_filename, "error": d.error} for d in failed],
        "chunks": chunks,
        "pages": pages,
        "chunks_per_s": round(chunks / wall, 2),
        "files_per_s": round(len(queued) / wall, 3),
        "pages_per_s": round(pages / wall, 3),
        "stage_seconds": stages,
        "embed_batch": settings.KB_EMBED_BATCH,
        "model": settings.KB_EMBED_MODEL,
        "graph_extractor": getattr(settings, "KB_GRAPH_EXTRACTOR", "rules"),
        "peak_rss_mb": rss,
        "document_add_s": round(add_seconds, 2),
        "warm_up_s": round(warm_up, 2),
    }, embedded


def _raw_encode(per_document: list[list[str]]) -> Json:
    """One encode call over every chunk text, then the same texts in our per-document slices of
    KB_EMBED_BATCH (what `_embed` does), to tell batching effects from pipeline overhead."""
    from django.conf import settings
    from sentence_transformers import SentenceTransformer

    from kb.text.embeddings import resolve_model_path

    batch = settings.KB_EMBED_BATCH
    texts = [text for document in per_document for text in document]
    model = SentenceTransformer(
        str(resolve_model_path(settings.KB_EMBED_MODEL, models_dir=Path(settings.KB_MODELS_DIR))),
        device="cpu",
        local_files_only=True,
    )

    def encode(items: list[str]) -> None:
        model.encode_document(items, batch_size=batch, normalize_embeddings=True)

    encode(texts[:batch])  # warm-up
    with Timed() as whole:
        encode(texts)
    with Timed() as sliced:
        for document in per_document:
            for start in range(0, len(document), batch):
                encode(document[start : start + batch])
    return {
        "wall_s": round(whole.seconds, 2),
        "other_processes_cpu_share": whole.other_share,
        "chunks": len(texts),
        "chunks_per_s": round(len(texts) / whole.seconds, 2),
        "batch_size": batch,
        "per_document_slices": {
            "wall_s": round(sliced.seconds, 2),
            "other_processes_cpu_share": sliced.other_share,
            "chunks_per_s": round(len(texts) / sliced.seconds, 2),
        },
    }


def _llamaindex(
    files: list[InputFile], qdrant_path: Path, *, chunking: tuple[int, int] | None = None
) -> Json:
    """llama-index's defaults; `chunking` (chunk size, overlap) replaces only the splitter's."""
    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning
    from django.conf import settings
    from llama_index.core import Document, SimpleDirectoryReader
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.readers.base import BaseReader
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    from kb.text.embeddings import resolve_model_path

    class HtmlText(BaseReader):
        def load_data(self, file: Path, extra_info: Json | None = None) -> list[Document]:
            soup = BeautifulSoup(Path(file).read_bytes(), "lxml")
            for tag in soup(["script", "style"]):
                tag.decompose()
            text = soup.get_text("\n", strip=True)
            return [Document(text=text, metadata=extra_info or {})]

    # The handbook's XHTML is fine for an HTML parser; the reader notice and local-mode payload
    # index notice are repeated once per call and say nothing about this run.
    warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)
    warnings.filterwarnings("ignore", message="Payload indexes have no effect")
    logging.getLogger("llama_index.core.readers.file.base").setLevel(logging.ERROR)
    embed = HuggingFaceEmbedding(
        model_name=str(
            resolve_model_path(settings.KB_EMBED_MODEL, models_dir=Path(settings.KB_MODELS_DIR))
        )
    )
    client = QdrantClient(path=str(qdrant_path))

    if chunking is None:
        splitter, described = SentenceSplitter(), "defaults (1024 tokens, overlap 200)"
    else:
        size, overlap = chunking
        splitter = SentenceSplitter(chunk_size=size, chunk_overlap=overlap)
        described = f"chunk_size={size}, chunk_overlap={overlap}"

    def ingest(paths: list[Path], collection: str) -> int:
        reader = SimpleDirectoryReader(input_files=paths, file_extractor={".html": HtmlText()})
        store = QdrantVectorStore(client=client, collection_name=collection)
        pipeline = IngestionPipeline(transformations=[splitter, embed], vector_store=store)
        return len(pipeline.run(documents=reader.load_data()))

    ingest([item.path for item in _first_of_each_source(files)], "warm-up")
    with Timed() as timed:
        chunks = ingest([item.path for item in files], "bench")
    client.close()
    wall = timed.seconds
    return {
        "wall_s": round(wall, 2),
        "other_processes_cpu_share": timed.other_share,
        "files": len(files),
        "chunks": chunks,
        "chunks_per_s": round(chunks / wall, 2),
        "files_per_s": round(len(files) / wall, 3),
        "embed_batch": embed.embed_batch_size,
        "reader": "SimpleDirectoryReader + BeautifulSoup(lxml).get_text for .html",
        "splitter": f"SentenceSplitter {described}",
        "vector_store": "QdrantVectorStore on QdrantClient(path=...) local mode",
    }


def _first_of_each_source(files: list[InputFile]) -> list[InputFile]:
    """Warm-up input: one file per source, so one-time loads (jieba's dictionaries for Chinese,
    unstructured's partitioners) happen outside the timed runs, as in a long-lived worker."""
    return list({item.source: item for item in reversed(files)}.values())


def _ratio(ours: float, baseline: float) -> float:
    return round(ours / baseline, 3) if baseline else float("nan")


def summary(report: Json) -> str:
    ours, raw, llama, llama_ours, ratios = (
        report[k]
        for k in ("ours", "raw_encode", "llamaindex_default", "llamaindex_our_chunks", "ratios")
    )
    stages = ", ".join(f"{k} {v}s" for k, v in ours["stage_seconds"].items())
    return "\n".join(
        [
            f"ours: {ours['files']} files ({ours['files_failed']} failed), {ours['chunks']} "
            f"chunks in {ours['wall_s']}s = {ours['chunks_per_s']} chunks/s, "
            f"{ours['files_per_s']} files/s, peak RSS {ours['peak_rss_mb']} MB",
            f"  stages: {stages}",
            f"raw encode: {raw['chunks_per_s']} chunks/s "
            f"(per-document slices {raw['per_document_slices']['chunks_per_s']})",
            f"llama-index default: {llama['chunks']} chunks in {llama['wall_s']}s = "
            f"{llama['chunks_per_s']} chunks/s, {llama['files_per_s']} files/s",
            f"llama-index, our chunk size: {llama_ours['chunks']} chunks in "
            f"{llama_ours['wall_s']}s = {llama_ours['chunks_per_s']} chunks/s, "
            f"{llama_ours['files_per_s']} files/s",
            f"other processes' CPU share: ours {ours['other_processes_cpu_share']}, raw "
            f"{raw['other_processes_cpu_share']}, llama-index {llama['other_processes_cpu_share']}"
            f" and {llama_ours['other_processes_cpu_share']}",
            f"ours/raw {ratios['ours_vs_raw_encode']} (target {TARGETS['ours_vs_raw_encode']}), "
            f"ours/llama-index files {ratios['ours_vs_llamaindex_files']}, "
            f"chunks {ratios['ours_vs_llamaindex_chunks']}, files at our chunk size "
            f"{ratios['ours_vs_llamaindex_our_chunks_files']} "
            f"(target {TARGETS['ours_vs_llamaindex']})",
        ]
    )
