"""What a quality run writes: the JSON report's descriptive parts, the per-question rows, the
re-scorable runs file, and the text table on stderr."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.common.devset import CROSS_LINGUAL, Question
from bench.common.metrics import first_occurrences, first_rank
from bench.quality.corpus import Corpus
from bench.quality.metrics import RECALL_K, gold_pages, page_units, section_unit, section_units
from bench.quality.search import PATHS, Asker, Outcome
from bench.quality.stores import Bm25Baseline

Json = dict[str, Any]


def question_counts(
    answerable: Sequence[Question], unanswerable: Sequence[Question], *, devset: Path
) -> Json:
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
        "answerable_by_lang": {
            lang: sum(q.lang == lang for q in answerable)
            for lang in sorted({q.lang for q in answerable})
        },
        "answerable_by_direction": {
            direction: sum(q.direction == direction for q in answerable)
            for direction in sorted({q.direction for q in answerable})
        },
        "files": [f"bench/devset/{devset.name}", "bench/devset/unanswerable.jsonl"],
    }


def setup(settings: Any, weights: Mapping[str, float], limit: int, top_k: int) -> Json:
    return {
        "paths": list(PATHS),
        "limit_per_path": limit,
        "fusion": "retrieval.fusion.rrf_fuse (k=60)",
        "fusion_weights": dict(weights),
        "weights_from": "settings.KB_FUSION_WEIGHTS",
        "top_k_passages_for_evidence": top_k,
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
            "page": "PDF questions: recall@5 is 1 when one of the first 5 chunks is on a gold "
            "page (physical, 1-based, the payload's `page`) of the gold file; MRR from the "
            "first such chunk's rank",
        },
    }


def latencies(ask: Asker, bm25: Bm25Baseline, questions: int) -> dict[str, float]:
    """Mean ms per question of each path's one search, and of bm25s."""
    rows = {s.name: s.seconds for s in ask.searchers}
    rows["bm25s"] = bm25.seconds
    return {name: round(1000 * sum(v) / max(questions, 1), 1) for name, v in rows.items()}


def per_question(outcome: Outcome, corpus: Corpus) -> Json:
    question = outcome.question
    gold_documents = {entry.document for entry in question.gold}
    gold_sections = {section_unit(entry) for entry in question.gold}
    row: Json = {
        "id": question.id,
        "lang": question.lang,
        "direction": question.direction,
        "question": question.text,
        "gold": [entry.document + "#" + entry.section for entry in question.gold],
        "evidence": {
            "dense": round(outcome.evidence.dense, 4),
            "coverage": round(outcome.evidence.coverage, 4),
        },
        "paths": {},
    }
    pages = gold_pages(question)
    for path, ranking in outcome.rankings.items():
        documents = corpus.documents(ranking)
        sections = section_units(corpus, ranking, question.gold)
        row["paths"][path] = {
            "hits": len(ranking),
            "doc_rank": first_rank(documents, gold_documents) if question.gold else None,
            "section_rank": first_rank(sections, gold_sections) if question.gold else None,
            "top5": first_occurrences(documents)[:RECALL_K],
        }
        if pages:
            units = page_units(corpus, ranking)
            row["paths"][path]["page_chunk_rank"] = next(
                (i for i, unit in enumerate(units, start=1) if unit in pages), None
            )
            row["paths"][path]["top5_pages"] = units[:RECALL_K]
    return row


def runs(outcomes: Sequence[Outcome], corpus: Corpus) -> Json:
    """Everything needed to re-score without re-indexing: chunk table and rankings."""
    return {
        "chunks": {
            cid: [c.document, c.section, c.text, c.page] for cid, c in corpus.chunks.items()
        },
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
        f"{'sec R@5':>8} {'sec nDCG@10':>12} {'any-ed R@5':>11} {'any-ed nDCG':>12} "
        f"{'page R@5':>9} {'page MRR':>9}",
    ]
    for path, row in metrics.items():
        lines.append(
            f"{path:<8} {_cell(row, 'doc_recall@5', 8)} {_cell(row, 'doc_ndcg@10', 12)} "
            f"{_cell(row, 'doc_mrr', 8)} {_cell(row, 'section_recall@5', 8)} "
            f"{_cell(row, 'section_ndcg@10', 12)} {_cell(row, 'any_edition_recall@5', 11)} "
            f"{_cell(row, 'any_edition_ndcg@10', 12)} {_cell(row, 'page_recall@5', 9)} "
            f"{_cell(row, 'page_mrr', 9)}"
        )
    lines.append("doc nDCG@10 per group: " + _group_line(report["metrics"]["by_group"]))
    if len(report["metrics"].get("by_lang", {})) > 1:
        lines.append("per language: " + _group_line(report["metrics"]["by_lang"]))
    if CROSS_LINGUAL in report["metrics"].get("by_crossing", {}):
        lines += direction_table(report["metrics"])
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


DIRECTION_COLUMNS = {
    "doc_recall@5": "doc R@5",
    "doc_recall@10": "doc R@10",
    "doc_mrr": "doc MRR",
    "section_recall@5": "sec R@5",
    "page_recall@5": "page R@5",
}


def direction_table(metrics: Json) -> list[str]:
    """Per crossing (same-language, cross-lingual) and direction (zh->en ...), each path's
    document recall@5 and @10, MRR, and section (HTML) or page (PDF) recall@5."""
    groups = {**metrics["by_crossing"], **metrics["by_direction"]}
    sizes = {**metrics["crossing_sizes"], **metrics["direction_sizes"]}
    lines = [
        f"{'direction':<14} {'n':>3} {'path':<8} "
        + " ".join(f"{label:>9}" for label in DIRECTION_COLUMNS.values())
    ]
    for group, paths in groups.items():
        for path, row in paths.items():
            cells = " ".join(_cell(row, key, 9) for key in DIRECTION_COLUMNS)
            lines.append(f"{group:<14} {sizes[group]:>3} {path:<8} {cells}")
    return lines


def _cell(row: Mapping[str, float], key: str, width: int) -> str:
    """A score, or a dash where no question has it (page scores on HTML, sections on PDF)."""
    return f"{row[key]:>{width}.3f}" if key in row else f"{'—':>{width}}"


def _group_line(by_group: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str:
    parts = []
    for group, paths in by_group.items():
        key = "page_recall@5" if "page_recall@5" in next(iter(paths.values()), {}) else None
        cells = ", ".join(f"{p} {m[key or 'doc_ndcg@10']:.2f}" for p, m in paths.items())
        parts.append(f"{group}{' (page R@5)' if key else ''}: {cells}")
    return "; ".join(parts)
