"""Dense vectors: real embeddings of the first chunks and of the queries, then synthetic
vectors around the real ones for every other chunk."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common.environment import Timed
from bench.common.metrics import percentiles
from bench.latency.corpus import SEED, Query
from bench.latency.layout import BenchChunk

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Matrix = npt.NDArray[np.float32]

NOISE_NORM = 0.35  # length of the noise added to a synthetic vector before normalising
WARM_UP_QUERIES = 5
Json = dict[str, Any]


def chunk_vectors(chunks: Sequence[BenchChunk], real: int) -> tuple[Matrix, Json]:
    import numpy as np
    from django.conf import settings

    from kb.text.embeddings import load_embedder

    embedder = load_embedder(settings.KB_EMBED_MODEL, models_dir=Path(settings.KB_MODELS_DIR))
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


def embed_queries(queries: Sequence[Query]) -> tuple[list[list[float]], Json]:
    """Each query's vector as the dense searcher makes it, and how long that took."""
    from django.conf import settings

    from kb.text.embeddings import load_embedder

    embedder = load_embedder(settings.KB_EMBED_MODEL, models_dir=Path(settings.KB_MODELS_DIR))
    for query in queries[:WARM_UP_QUERIES]:
        embedder.encode_query(query.text)
    vectors, times = [], []
    with Timed() as timed:
        for query in queries:
            started = time.perf_counter()
            vectors.append(embedder.encode_query(query.text))
            times.append((time.perf_counter() - started) * 1000)
    return vectors, {**percentiles(times), "other_processes_cpu_share": timed.other_share}
