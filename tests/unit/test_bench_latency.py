"""The latency benchmark's synthetic corpus, access layout, vectors and figures (bench/latency/)."""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth.models import User

from bench.common.metrics import percentiles
from bench.latency.corpus import SourceChunk, SourceDocument, recombine
from bench.latency.layout import GROUPS, build_layout, matches
from bench.latency.llm import AnswerRun, LlmRun
from bench.latency.searches import p50_ratios, rotated
from bench.latency.vectors import synthetic_vectors

pytestmark = pytest.mark.unit


def _corpus(documents: int = 30, chunks: int = 12) -> list[SourceDocument]:
    return [
        SourceDocument(
            source="debian-handbook/en-US" if d % 2 else "postgresql-doc-15",
            title=f"Page {d}",
            chunks=tuple(
                SourceChunk(f"Doc {d} chunk {c} says one. It says two. It says three.", "Intro")
                for c in range(chunks)
            ),
        )
        for d in range(documents)
    ]


def test_recombine_joins_the_first_half_of_one_text_with_the_second_half_of_another() -> None:
    text = recombine("A one. A two. A three.", "B one. B two. B three. B four.")

    assert text == "A one. A two. B three. B four."


def test_synthetic_vectors_are_unit_length_reproducible_and_near_the_real_ones() -> None:
    rng = np.random.default_rng(0)
    real = rng.normal(size=(50, 16)).astype(np.float32)
    real /= np.linalg.norm(real, axis=1, keepdims=True)

    first, cosine = synthetic_vectors(real, 200, seed=7)
    second, _ = synthetic_vectors(real, 200, seed=7)

    assert first.shape == (200, 16)
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(first, second)
    assert cosine > 0.5


@pytest.mark.django_db
def test_layout_reaches_the_size_with_recombined_documents_once_real_ones_run_out() -> None:
    corpus = _corpus()

    layout = build_layout(corpus, 1000)

    assert len(layout.chunks) == 1000
    assert sum(c.real_text for c in layout.chunks) == 30 * 12
    assert [c.row for c in layout.chunks] == list(range(1000))
    assert len({c.id for c in layout.chunks}) == 1000


@pytest.mark.django_db
def test_staff_reads_everything_and_the_narrow_user_only_the_small_collection() -> None:
    layout = build_layout(_corpus(), 3000)

    narrow = [c for c in layout.chunks if matches(c, layout.scopes["narrow"])]

    assert all(matches(c, layout.scopes["staff"]) for c in layout.chunks)
    assert {c.collection_id for c in narrow} == {layout.narrow_collection}
    assert len(narrow) <= 0.005 * len(layout.chunks)
    assert layout.readers[layout.narrow_collection] == [GROUPS]


@pytest.mark.django_db
def test_the_broad_user_reads_a_share_within_the_intended_range() -> None:
    layout = build_layout(_corpus(documents=200, chunks=10), 2000)

    share = layout.scope_share(layout.scopes["broad"], 2000)

    assert 0.05 <= share <= 0.20


def test_percentiles_interpolate_between_the_samples() -> None:
    figures = percentiles([float(v) for v in range(1, 101)])

    assert figures["n"] == 100
    assert figures["p50"] == pytest.approx(50.5)
    assert figures["p95"] == pytest.approx(95.05)
    assert percentiles([]) == {"n": 0}


def test_llm_rates_count_the_prompt_until_the_first_token_and_the_rest_after_it() -> None:
    run = LlmRun(prompt_tokens=1000, completion_tokens=101, ttft_ms=2000.0, total_ms=12000.0)

    assert run.prompt_tokens_per_s == pytest.approx(500.0)
    assert run.generation_tokens_per_s == pytest.approx(10.0)


@pytest.mark.django_db
def test_every_chunk_carries_its_documents_acl_from_the_access_policy() -> None:
    from kb.access import access_scope, document_acl
    from kb.models import Document

    layout = build_layout(_corpus(documents=200, chunks=10), 2000)

    documents = Document.objects.select_related("collection").in_bulk()
    assert all(list(c.acl) == document_acl(documents[c.document_id]) for c in layout.chunks)
    assert any(len(c.acl) == 2 and len(layout.readers[c.collection_id]) > 1 for c in layout.chunks)
    narrow_user = User.objects.get(username="bench-narrow")
    assert layout.scopes["narrow"] == access_scope(narrow_user)


def test_p50_ratios_divide_by_the_baseline_and_skip_a_zero_baseline() -> None:
    report = {
        "staff": {"ms": {"dense": {"p50": 10.0}, "sparse": {"p50": 0.0}}},
        "narrow": {"ms": {"dense": {"p50": 5.0}, "sparse": {"p50": 1.0}}},
    }

    ratios = p50_ratios(report, ["staff", "narrow"], ["dense", "sparse"], "staff")

    assert ratios == {"narrow": {"dense": 0.5, "sparse": None}}


def test_scope_order_rotates_per_query() -> None:
    assert [rotated(["a", "b", "c"], n) for n in range(4)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]


def test_retrieval_time_of_an_answer_adds_the_retrieval_stages_only() -> None:
    run = AnswerRun(
        model_called=True,
        refused=False,
        sources_ms=40.0,
        ttft_visible_ms=900.0,
        total_ms=2000.0,
        prompt_tokens=100,
        completion_tokens=10,
        stages_ms={"dense": 30.0, "sparse": 5.0, "fuse_check": 2.0, "first_token": 800.0},
    )

    assert run.retrieval_ms == 37.0
