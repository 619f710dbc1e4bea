"""`python -m bench quality`: its scores per question and path, the fusion set-ups it compares,
and that rankings and refusals are the production Retriever's and RefusalPolicy's."""

from __future__ import annotations

import argparse
from typing import cast

import pytest

from bench.common.devset import Gold, Question
from bench.quality.corpus import Chunk, Corpus
from bench.quality.fusion import parse_weights, weight_grid
from bench.quality.metrics import (
    document_scores,
    mean_scores,
    page_units,
    question_scores,
    wins,
)
from bench.quality.refusal import best_thresholds, calibrate
from bench.quality.search import Asker, CachedSearcher, Outcome
from kb.stores.payload import ChunkPayload
from kb.stores.protocols import VectorIndex
from kb.stores.types import AccessScope
from retrieval.evidence import Evidence, RefusalPolicy
from retrieval.retriever import Retriever
from retrieval.types import Candidate

pytestmark = pytest.mark.unit

GOLD = Gold("postgresql-doc-15", "sql-copy.html", "Parameters")
QUESTION = Question("pg-01", "en", "How does COPY read a file?", (GOLD,))
SCOPE = AccessScope([1], ["staff"])


def _corpus() -> Corpus:
    return Corpus(
        chunks={
            "c1": Chunk("postgresql-doc-15/other.html", "Intro", "text"),
            "c2": Chunk("postgresql-doc-15/sql-copy.html", "COPY > Parameters", "text"),
            "c3": Chunk("postgresql-doc-15/sql-copy.html", "COPY > Notes", "text"),
        }
    )


def test_question_scores_count_documents_and_sections_at_their_first_chunk():
    scores = question_scores(QUESTION, ["c1", "c3", "c2"], _corpus())

    assert scores["doc_mrr"] == 0.5  # the gold file's first chunk is second
    assert scores["section_mrr"] == pytest.approx(1 / 3)  # its gold section is third
    assert scores["doc_recall@5"] == scores["section_recall@5"] == 1.0
    assert document_scores(QUESTION, ["c1", "c3"], _corpus()) == (
        scores["doc_ndcg@10"],
        scores["doc_recall@5"],
    )


PDF_QUESTION = Question(
    "gp-01",
    "en",
    "How do I make the axis logarithmic?",
    (Gold("gnuplot-doc", "gnuplot.pdf", page=167), Gold("gnuplot-doc", "gnuplot.pdf", page=168)),
)


def _pdf_corpus() -> Corpus:
    return Corpus(
        chunks={
            "p1": Chunk("gnuplot-doc/gnuplot.pdf", "Set-show > Locale", "text", page=166),
            "p2": Chunk("glpk-doc/gmpl.pdf", "Variable statement", "text", page=167),
            "p3": Chunk("gnuplot-doc/gnuplot.pdf", "Set-show > Logscale", "text", page=168),
            "p4": Chunk("gnuplot-doc/gnuplot.pdf", "Set-show > Locale", "text", page=None),
        }
    )


def test_a_page_hit_is_a_chunk_on_any_gold_page_of_the_gold_file():
    scores = question_scores(PDF_QUESTION, ["p1", "p2", "p3"], _pdf_corpus())

    # page 167 of another file is no hit; page 168 (the second acceptable page) at rank 3 is
    assert scores["page_recall@5"] == 1.0
    assert scores["page_mrr"] == pytest.approx(1 / 3)
    assert scores["doc_mrr"] == 1.0
    assert "section_recall@5" not in scores  # PDF gold has pages, no headings


def test_page_recall_counts_chunks_not_pages_and_misses_past_the_fifth():
    ranking = ["p1", "p4", "p1", "p2", "p1", "p3"]  # the gold page is the sixth chunk
    scores = question_scores(PDF_QUESTION, ranking, _pdf_corpus())

    assert scores["page_recall@5"] == 0.0
    assert scores["page_mrr"] == pytest.approx(1 / 6)
    assert page_units(_pdf_corpus(), ["p4", "gone", "p3"]) == [
        "gnuplot-doc/gnuplot.pdf#p?",
        "gnuplot-doc/gnuplot.pdf#p168",
    ]


def test_mean_scores_average_each_score_over_the_questions_that_have_it():
    rows = [{"doc_mrr": 1.0, "page_mrr": 0.5}, {"doc_mrr": 0.0, "section_mrr": 1.0}]

    assert mean_scores(rows) == {"doc_mrr": 0.5, "page_mrr": 0.5, "section_mrr": 1.0}


def test_unknown_chunk_ids_are_skipped():
    assert question_scores(QUESTION, ["gone", "c2"], _corpus())["doc_mrr"] == 1.0


def test_mean_scores_and_wins_compare_question_by_question():
    fused = [{"doc_ndcg@10": 1.0}, {"doc_ndcg@10": 0.5}, {"doc_ndcg@10": 0.0}]
    other = [{"doc_ndcg@10": 0.5}, {"doc_ndcg@10": 0.5}, {"doc_ndcg@10": 1.0}]

    assert wins(fused, other) == [1, 1, 1]
    assert mean_scores(fused) == {"doc_ndcg@10": 0.5}
    assert mean_scores([]) == {}


def test_parse_weights_leaves_unnamed_paths_off_and_rejects_unknown_ones():
    assert parse_weights("dense=1,sparse=0.5") == {"dense": 1.0, "sparse": 0.5, "graph": 0.0}
    with pytest.raises(argparse.ArgumentTypeError):
        parse_weights("bm25=1")


def test_weight_grid_holds_each_ratio_once_scaled_to_a_largest_weight_of_one():
    grid = weight_grid()

    assert len(grid) == len({tuple(w.values()) for w in grid})
    assert all(max(w.values()) == 1.0 for w in grid)
    assert {"dense": 1.0, "sparse": 1.0, "graph": 0.0} in grid
    assert {"dense": 0.5, "sparse": 0.5, "graph": 0.0} not in grid  # same ratio as 1, 1, 0


class _Path:
    def __init__(self, name: str, hits: list[str]) -> None:
        self.name = name
        self.hits = hits
        self.calls = 0

    def search(self, question: str, *, scope: AccessScope, limit: int) -> list[Candidate]:
        self.calls += 1
        return [_candidate(cid) for cid in self.hits][:limit]


class _Index:
    """Only what a ranking touches: the payload fetch for hits without one (none here)."""

    def fetch(self, *, ids, scope):
        return []


def _candidate(chunk_id: str) -> Candidate:
    payload = ChunkPayload(chunk_id=chunk_id, document_id=1, collection_id=1, acl=("staff",))
    return Candidate(chunk_id, 1, 0.5, payload)


def _asker() -> tuple[Asker, _Path]:
    dense = _Path("dense", ["a", "b"])
    shipped = Retriever(
        searchers=[dense, _Path("sparse", ["c", "a"])],
        index=cast(VectorIndex, _Index()),
        weights={"dense": 1.0, "sparse": 1.0},
        path_limit=10,
    )
    return Asker(shipped, scope=SCOPE, allowed=lambda ids: ids, top_k=5), dense


def test_a_setup_is_ranked_by_the_retriever_with_its_script_rule():
    ask, _ = _asker()
    chinese = Question("zh-01", "zh", "如何配置防火墙", ())
    weights = {"dense": 1.0, "sparse": 1.0}

    aware = ask.ranking(chinese, ask.retriever(weights))
    blind = ask.ranking(chinese, ask.retriever(weights, script_aware=False))

    assert aware == ["c", "a", "b"]  # no dense vote: its hits trail at weight 0
    assert blind == ["a", "c", "b"]


def test_the_alternatives_replay_the_run_and_search_nothing_new():
    ask, dense = _asker()
    first = Question("q1", "en", "first question", ())
    retriever = ask.retriever({"dense": 1.0, "sparse": 1.0}, limit=1)

    assert ask.ranking(first, retriever) == ["a", "c"]  # a prefix of the cached search
    ask.replay_only()

    assert ask.ranking(Question("q2", "en", "second question", ()), retriever) == []
    assert dense.calls == 1
    assert isinstance(ask.searchers[0], CachedSearcher)


def _outcome(qid: str, answerable: bool, dense: float, coverage: float, latin: bool) -> Outcome:
    question = Question(qid, "en" if latin else "zh", "q", (GOLD,) if answerable else ())
    return Outcome(question, {}, Evidence(dense=dense, coverage=coverage, latin_script=latin))


def test_best_thresholds_separate_answerable_from_unanswerable_at_midpoints():
    samples = [(0.8, 0.9, True), (0.7, 0.2, True), (0.3, 0.3, False), (0.2, 0.1, False)]

    assert best_thresholds(samples) == (0.5, 0.6)


def test_the_settings_row_judges_each_script_by_its_own_pair():
    outcomes = [
        _outcome("hb-01", True, 0.5, 0.5, latin=True),  # above Latin's 0.4 dense: answered
        _outcome("zh-01", True, 0.5, 0.5, latin=False),  # below the other scripts' pair
        _outcome("un-01", False, 0.3, 0.3, latin=True),
    ]
    policy = RefusalPolicy(
        min_dense=0.4, min_coverage=0.6, other_min_dense=0.6, other_min_coverage=0.6
    )

    result = calibrate(outcomes, policy)["settings"]

    assert (result["other_script_dense"], result["other_script_coverage"]) == (0.6, 0.6)
    assert result["false_refusals"] == 1
    assert result["false_answers"] == 0
