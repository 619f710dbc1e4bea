"""The stores of one size: the production adapters, written per document with the points and
graph chunks that `ingestion.pipeline` builds, as ingestion writes them."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.common.environment import Timed
from bench.latency.layout import BenchChunk

if TYPE_CHECKING:
    from bench.latency.vectors import Matrix
    from ingestion.types import Chunk
    from kb.models import Document
    from kb.stores.graph_embedded import EmbeddedGraphStore
    from kb.stores.qdrant_edge import QdrantEdgeIndex

Json = dict[str, Any]


@dataclass
class Stores:
    index: QdrantEdgeIndex
    graph: EmbeddedGraphStore

    def close(self) -> None:
        self.index.close()
        self.graph.close()


def build_vectors(index: QdrantEdgeIndex, chunks: Sequence[BenchChunk], vectors: Matrix) -> Json:
    """Points per document, in batches of the pipeline's size, built by the pipeline
    (`ingestion.pipeline._points`: sparse vector, payload, instruction cues)."""
    from ingestion.pipeline import _points
    from kb.text.instructions import instruction_cues

    documents = _documents(chunks)
    sparse_s = upsert_s = 0.0
    terms = 0
    with Timed() as timed:
        for batch in per_document(chunks):
            started = time.perf_counter()
            points = _points(
                documents[batch[0].document_id],
                [_chunk(c) for c in batch],
                [c.id for c in batch],
                [vectors[c.row].tolist() for c in batch],
                list(batch[0].acl),
                [instruction_cues(c.text) for c in batch],
                {},  # bench chunks have no pages, so no printed page labels
            )
            terms += sum(len(point.sparse.indices) for point in points)
            upsert_started = time.perf_counter()
            sparse_s += upsert_started - started
            index.upsert(points)
            upsert_s += time.perf_counter() - upsert_started
    layout = index.layout()
    return {
        "wall_s": round(timed.seconds, 2),
        "sparse_encode_and_points_s": round(sparse_s, 2),
        "upsert_s": round(upsert_s, 2),
        "upsert_ms_per_chunk": round(upsert_s * 1000 / len(chunks), 3),
        "sparse_terms_per_chunk": round(terms / len(chunks), 1),
        "segments": layout.segments,
        "indexed_vectors": layout.indexed_vectors,
        "other_processes_cpu_share": timed.other_share,
    }


def build_graph(
    graph: EmbeddedGraphStore, chunks: Sequence[BenchChunk], *, budget_s: float
) -> Json:
    """Rule-based entities per chunk (`ingestion.pipeline._graph_chunks` with
    KB_GRAPH_EXTRACTOR=rules), written per document as ingestion does, until the budget is
    spent. Write cost per chunk is recorded per tenth of the way, to show its growth."""
    from django.test import override_settings

    from ingestion.pipeline import _graph_chunks

    documents = _documents(chunks)
    extract_s = write_s = 0.0
    written = 0
    step = max(len(chunks) // 10, 1)
    progression: list[list[float]] = []
    window = (0, 0.0)
    with Timed() as timed, override_settings(KB_GRAPH_EXTRACTOR="rules"):
        for batch in per_document(chunks):
            if extract_s + write_s >= budget_s:
                break
            started = time.perf_counter()
            graph_chunks = _graph_chunks(
                documents[batch[0].document_id],
                [_chunk(c) for c in batch],
                [c.id for c in batch],
                list(batch[0].acl),
            )
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


def per_document(chunks: Sequence[BenchChunk]) -> Iterator[list[BenchChunk]]:
    """Consecutive chunks of one document, at most the pipeline's write batch at a time."""
    from ingestion.pipeline import WRITE_BATCH

    current: list[BenchChunk] = []
    for chunk in chunks:
        if current and (chunk.document_id != current[0].document_id or len(current) >= WRITE_BATCH):
            yield current
            current = []
        current.append(chunk)
    if current:
        yield current


def _documents(chunks: Sequence[BenchChunk]) -> dict[int, Document]:
    """The chunks' document rows, which the layout wrote."""
    from kb.models import Document

    return Document.objects.in_bulk(list({c.document_id for c in chunks}))


def _chunk(chunk: BenchChunk) -> Chunk:
    """The chunker's type; its token count is not read when points are built."""
    from ingestion.types import Chunk

    return Chunk(
        number=chunk.number, text=chunk.text, page=None, section=chunk.section, token_count=0
    )


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
