"""The indexes searched: ours, built by the ingestion pipeline, and the bm25s baseline over
exactly the chunk texts ours received."""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

from bench.common.corpus import InputFile, add_files
from bench.common.environment import Timed
from bench.quality.corpus import Chunk, Corpus

COLLECTION = "quality"
READERS = "quality-readers"


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
            corpus.chunks[point.id] = Chunk(
                str(payload.document_id), payload.section, payload.text, payload.page
            )
        upsert(points)

    queued = add_files(COLLECTION, files, reader_groups=[READERS])
    with mock.patch.object(index, "upsert", recorded), Timed() as timed:
        for document_id, version in queued:
            ingest_document(document_id=document_id, version=version, final_try=True)
    names = dict(Document.objects.values_list("id", "source_filename"))
    corpus.chunks = {
        cid: Chunk(names[int(c.document)], c.section, c.text, c.page)
        for cid, c in corpus.chunks.items()
    }
    failed = Document.objects.filter(status=DocumentStatus.FAILED)
    corpus.ingest = {
        "chunk_model_tokens": _chunk_lengths(corpus),
        "documents_indexed": Document.objects.filter(status=DocumentStatus.INDEXED).count(),
        "documents_failed": [{"file": d.source_filename, "error": d.error} for d in failed],
        "chunks": len(corpus.chunks),
        "ingest_wall_s": round(timed.seconds, 1),
        "ingest_other_processes_cpu_share": timed.other_share,
    }
    return corpus


def _chunk_lengths(corpus: Corpus) -> dict[str, int]:
    """Chunk lengths in the embedding model's own tokens, and how many chunks are longer than
    it reads (their tails are not embedded): the figure the chunk size is judged by."""
    from django.conf import settings

    from kb.text.embeddings import load_embedder

    embedder = load_embedder(settings.KB_EMBED_MODEL, models_dir=Path(settings.KB_MODELS_DIR))
    lengths = [len(embedder.tokenize(chunk.text)) for chunk in corpus.chunks.values()]
    return {
        "limit": embedder.max_tokens,
        "max": max(lengths, default=0),
        "over_limit": sum(length > embedder.max_tokens for length in lengths),
    }


class Bm25Baseline:
    """bm25s over exactly our chunk texts: an independent baseline, nothing of ours inside."""

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


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """bm25s logs its progress on stdout even with show_progress off in some paths."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield
