"""`python -m bench quality`: its scores per question and path, the fusion set-ups it compares,
and that rankings and refusals are the production Retriever's and RefusalPolicy's."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import cast

import pytest

from bench.common.corpus import SOURCES, InputFile
from bench.common.devset import Gold, Question, load_questions
from bench.quality import corpus as quality_corpus
from bench.quality.corpus import Chunk, Corpus, crosslingual_files, one_edition_of_gold
from bench.quality.fusion import parse_weights, weight_grid
from bench.quality.metrics import (
    document_scores,
    mean_scores,
    page_units,
    path_metrics,
    question_scores,
    wins,
)
from bench.quality.refusal import best_thresholds, calibrate
from bench.quality.report import direction_table
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


def test_direction_is_question_language_to_gold_language():
    zh_page = Gold("debian-handbook/zh-CN", "sect.quotas.html", "9.9. 配额")
    en_page = Gold("debian-handbook/en-US", "sect.quotas.html", "9.9. Quotas")
    pdf_page = Gold("gnuplot-doc", "gnuplot.pdf", page=167)

    assert Question("q", "en", "?", (zh_page,)).direction == "en->zh"
    assert Question("q", "ru", "?", (GOLD,)).direction == "ru->en"
    assert Question("q", "zh", "?", (pdf_page,)).crossing == "cross-lingual"
    assert Question("q", "zh", "?", (zh_page, en_page)).direction == "zh->en+zh"
    assert Question("q", "zh", "?", (zh_page, en_page)).crossing == "same-language"
    assert Question("q", "en", "?").direction == ""


def test_a_declared_direction_must_match_the_gold(tmp_path):
    row = '{"id": "xl-01", "lang": "zh", "question": "?", "direction": "%s", "gold": [%s]}'
    gold = '{"source": "postgresql-doc-15", "file": "sql-copy.html", "section": "Parameters"}'
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text(row % ("zh->en", gold) + "\n")
    bad.write_text(row % ("en->zh", gold) + "\n")

    assert load_questions(good)[0].direction == "zh->en"
    with pytest.raises(ValueError, match="xl-01"):
        load_questions(bad)


def test_path_metrics_group_scores_by_direction_and_crossing():
    ranking = {"dense": ["c2"], "sparse": ["c1"]}  # dense finds the gold file, sparse does not
    same = Question("pg-01", "en", "?", (GOLD,))
    cross = Question("xl-01", "zh", "?", (GOLD,))
    outcomes = [Outcome(q, dict(ranking), Evidence(0.5, 0.5)) for q in (same, cross, cross)]

    metrics = path_metrics(outcomes, _corpus())

    assert metrics["direction_sizes"] == {"en->en": 1, "zh->en": 2}
    assert metrics["crossing_sizes"] == {"cross-lingual": 2, "same-language": 1}
    assert metrics["by_direction"]["zh->en"]["dense"]["doc_recall@10"] == 1.0
    assert metrics["by_crossing"]["cross-lingual"]["sparse"]["doc_recall@5"] == 0.0
    assert metrics["by_lang"]["zh"] == metrics["by_direction"]["zh->en"]


def _files(*names: str) -> list[InputFile]:
    return [InputFile(name.rsplit("/", 1)[0], Path("/doc") / name) for name in names]


def test_a_gold_handbook_page_stays_in_its_gold_edition_only():
    files = _files(
        "debian-handbook/zh-CN/sect.quotas.html",  # gold
        "debian-handbook/ru-RU/sect.quotas.html",  # its other edition: dropped
        "debian-handbook/ru-RU/sect.syslog.html",  # a distractor: kept
        "postgresql-doc-15/sql-copy.html",
    )

    kept = one_edition_of_gold(files, {"debian-handbook/zh-CN/sect.quotas.html"})

    assert [f.name for f in kept] == [
        "debian-handbook/zh-CN/sect.quotas.html",
        "debian-handbook/ru-RU/sect.syslog.html",
        "postgresql-doc-15/sql-copy.html",
    ]


def test_the_crosslingual_corpus_selects_distractors_without_the_english_handbook(monkeypatch):
    asked: list[list[str]] = []

    def select(per_source, sources):
        asked.append(list(sources))
        return [
            InputFile(source, SOURCES[source] / "sect.quotas.html")
            for source in ("debian-handbook/en-US", *sources)
            if source.startswith("debian-handbook")
        ]

    monkeypatch.setattr(quality_corpus, "select_files", select)
    question = Question(
        "xl-01", "en", "?", (Gold("debian-handbook/ru-RU", "sect.quotas.html", "9.9. Квоты"),)
    )

    files = crosslingual_files([question], 5)

    assert asked == [["postgresql-doc-15", "debian-handbook/zh-CN", "debian-handbook/ru-RU"]]
    assert [f.name for f in files] == ["debian-handbook/ru-RU/sect.quotas.html"]


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
    asker = Asker(
        shipped, scope=SCOPE, allowed=lambda ids: ids, top_k=5, document_scripts=frozenset()
    )
    return asker, dense


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
    samples = [
        (((0.8, 0.9),), True),
        (((0.7, 0.2),), True),
        (((0.3, 0.3),), False),
        (((0.2, 0.1),), False),
    ]

    assert best_thresholds(samples) == (0.5, 0.6)


def test_a_question_searched_in_translation_is_answered_when_any_form_has_the_evidence():
    outcome = _outcome("zh-01", True, 0.1, 0.1, latin=False)
    outcome.forms = (outcome.evidence, Evidence(dense=0.7, coverage=0.7))  # its English form
    unanswerable = _outcome("un-01", False, 0.3, 0.3, latin=True)
    policy = RefusalPolicy(min_dense=0.4, min_coverage=0.6)

    result = calibrate([outcome, unanswerable], policy)

    assert result["settings"]["false_refusals"] == 0
    assert result["errors_at_settings"] == {"false_refusals": [], "false_answers": []}


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


def test_the_direction_table_lists_crossings_then_directions_per_path():
    row = {"doc_recall@5": 0.5, "doc_recall@10": 1.0, "doc_mrr": 0.25, "section_recall@5": 0.0}
    metrics = {
        "by_crossing": {"cross-lingual": {"dense": row}},
        "by_direction": {"en->zh": {"dense": row}, "zh->en": {"dense": row}},
        "crossing_sizes": {"cross-lingual": 3},
        "direction_sizes": {"en->zh": 1, "zh->en": 2},
    }

    header, *lines = direction_table(metrics)

    assert header.split()[:3] == ["direction", "n", "path"]
    assert [line.split()[:3] for line in lines] == [
        ["cross-lingual", "3", "dense"],
        ["en->zh", "1", "dense"],
        ["zh->en", "2", "dense"],
    ]
    assert lines[0].split()[3:] == ["0.500", "1.000", "0.250", "0.000", "—"]  # no page scores
