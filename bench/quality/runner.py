"""`python -m bench quality`: options, the run in order, and the files it writes."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common.corpus import InputFile, corpus_summary, pdf_files
from bench.common.devset import (
    ANSWERABLE,
    CROSSLINGUAL,
    NEAR_MISS,
    PDF,
    UNANSWERABLE,
    Question,
    load_questions,
)
from bench.common.environment import Timed, code_state, machine, setup_django
from bench.quality import answers, report
from bench.quality.corpus import corpus_files, crosslingual_files, selected
from bench.quality.fusion import fusion_alternatives, parse_weights
from bench.quality.metrics import CANDIDATE, path_metrics
from bench.quality.refusal import calibrate
from bench.quality.search import build_asker
from bench.quality.stores import Bm25Baseline, index_corpus
from bench.quality.translation_gate import gate_sweep

HELP = "retrieval quality per path, fused and plain BM25 on a dev set; refusal calibration"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "results" / "quality.json"
DEFAULT_DISTRACTORS = 60
DEFAULT_LIMIT = 50
# GraphSearcher's default is 2 hops; on the embedded graph a 2-hop neighbourhood enumerates
# every path (22,865 rows, 37 s and +6.6 GB RSS for one question over 386 chunks), so the
# benchmark runs 1 hop unless asked (README, "Performance").
DEFAULT_GRAPH_HOPS = 1
# The claim check's share of a sentence's terms its passages must hold, as --answers-rescore
# sweeps it (retrieval.claim_support.ClaimRules.min_terms).
CLAIM_TERMS_SWEEP = (0.4, 0.5, 0.55, 0.6, 0.65)
# The claim judge's threshold (KB_CLAIM_JUDGE_MIN_YES), swept the same way (rows that recorded
# no judgements keep the rules' verdict).
CLAIM_JUDGE_SWEEP = (0.0, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65)
DEFAULT_CANDIDATE = "dense=1,sparse=1,graph=0"
Json = dict[str, Any]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--distractors",
        type=int,
        default=DEFAULT_DISTRACTORS,
        help="pages per source besides the gold ones (default %(default)s)",
    )
    parser.add_argument("--full", action="store_true", help="every page of every source")
    corpus = parser.add_mutually_exclusive_group()
    corpus.add_argument(
        "--pdf",
        action="store_true",
        help="the real PDF manuals (bench.common.corpus.PDF_SOURCES, whole) and the questions "
        "of devset/pdf.jsonl instead of the HTML pages; page recall@5 beside document recall",
    )
    corpus.add_argument(
        "--crosslingual",
        action="store_true",
        help="the questions of devset/crosslingual.jsonl (zh/ru about English pages, English "
        "about zh-CN/ru-RU pages) over their gold pages and distractors from every source but "
        "the English handbook, each gold page in one edition; scores per direction",
    )
    parser.add_argument(
        "--translate",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="search a question translated into the corpus's other scripts too, written by the "
        "model in settings (KB_TRANSLATE_QUESTIONS and KB_TRANSLATE_SEARCHES: what answers and "
        "searches do)",
    )
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
        help="the candidate gives no dense vote to questions not in Latin script (off: the "
        "dense model is taken as multilingual, its hits voting and counting as refusal "
        "evidence in every script, as a multilingual KB_EMBED_MODEL always is)",
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
    parser.add_argument(
        "--answers",
        action="store_true",
        help="also answer every question with the model in settings (the default model) and "
        "report false answers and false refusals, near-miss questions included on the HTML "
        "corpus (about an hour on 2 cores); with --pdf or --crosslingual their questions and "
        "the off-topic ones, a PDF question's answer citing its gold only by citing a gold "
        "page; JSON in <out>-answers.json",
    )
    parser.add_argument(
        "--prompt-budgets",
        type=parse_budgets,
        default=None,
        metavar="N,N",
        help="with --answers: answer each question once per prompt budget "
        "(KB_PROMPT_TOKEN_BUDGET; 0: every passage whole), reported side by side (default: "
        "the one in settings)",
    )
    parser.add_argument(
        "--answers-rescore",
        type=Path,
        metavar="FILE",
        help="report the answers of an earlier run (its -answers.json, or the log of an "
        "interrupted run) at the thresholds in settings and the sweep, with the name refusal "
        "and the claim check of this checkout, without running the model",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON path")


def run(args: argparse.Namespace, *, command: str) -> int:
    if args.answers_rescore:
        return rescore_answers(args.answers_rescore, command=command)
    answerable = selected(load_questions(devset(args)), args.ids)
    unanswerable = selected(load_questions(UNANSWERABLE), args.ids)
    # The near misses are about the HTML corpus's pages: the PDF and cross-lingual corpora
    # answer them with their own questions and the off-topic ones only.
    html = not (args.pdf or args.crosslingual)
    near_miss = selected(load_questions(NEAR_MISS), args.ids) if args.answers and html else []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="quarry-quality-") as tmp:
        files = input_files([*answerable, *near_miss], Path(tmp), args=args)
        result, runs = measure(answerable, unanswerable, files, Path(tmp), args=args)
        if args.answers:
            answers_result = measure_answers(
                {"answerable": answerable, "near_miss": near_miss, "off_topic": unanswerable},
                args=args,
            )
    result["wall_s_whole_run"] = round(time.perf_counter() - started, 1)
    result["command"] = command
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    runs_path = args.out.with_name(f"{args.out.stem}-runs.json")
    runs_path.write_text(json.dumps(runs, ensure_ascii=False) + "\n")
    print(args.out, runs_path, file=sys.stderr)
    print(report.summary(result), file=sys.stderr)
    if args.answers:
        answers_result["command"] = command
        answers_path = args.out.with_name(f"{args.out.stem}-answers.json")
        answers_path.write_text(json.dumps(answers_result, indent=2, ensure_ascii=False) + "\n")
        print(answers_path, file=sys.stderr)
        print(answers.summary(answers_result), file=sys.stderr)
    return 0


def parse_budgets(text: str) -> list[int]:
    budgets = [int(part) for part in text.split(",") if part.strip()]
    if not budgets or any(b < 0 for b in budgets) or len(set(budgets)) < len(budgets):
        raise argparse.ArgumentTypeError("distinct token counts >= 0, e.g. 0,600")
    return budgets


def devset(args: argparse.Namespace) -> Path:
    """The answerable questions' file of the run's mode."""
    return PDF if args.pdf else CROSSLINGUAL if args.crosslingual else ANSWERABLE


def input_files(
    questions: list[Question], tmp: Path, *, args: argparse.Namespace
) -> list[InputFile]:
    """The run's corpus: the whole PDF manuals, the cross-lingual corpus, or the HTML one."""
    distractors = None if args.full else args.distractors
    if args.pdf:
        return pdf_files(tmp / "pdf")
    if args.crosslingual:
        return crosslingual_files(questions, distractors)
    return corpus_files(questions, distractors)


def rescore_answers(path: Path, *, command: str) -> int:
    """The report of `--answers` from an earlier run's rows, at the thresholds in settings
    (evidence, answerability) with this checkout's name refusal and claim check."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kb.settings.base")
    from django.conf import settings

    from retrieval.claim_support import DEFAULT_RULES
    from retrieval.factory import claim_embedder, refusal_policy

    runs = answers.load_rows(path)
    files = (ANSWERABLE, NEAR_MISS, UNANSWERABLE, PDF, CROSSLINGUAL)
    questions = [q for f in files for q in load_questions(f)]
    asked = {q.id: q.text for q in questions}
    if settings.KB_REFUSE_UNCOVERED_NAMES:
        runs = answers.with_uncovered_names(runs, asked)
    gold = {q.id: answers.gold_names(q) for q in questions}
    embedder = claim_embedder()
    shipped = settings.KB_ANSWERABILITY_MIN_YES
    policy = refusal_policy()

    def rechecked(share: float) -> list[answers.AnswerRun]:
        rules = replace(DEFAULT_RULES, min_terms=share)
        return answers.with_claims_rechecked(
            runs, gold=gold, rules=rules, embedder=embedder, asked=asked
        )

    def judged(min_yes: float) -> list[answers.AnswerRun]:
        return answers.with_claims_rechecked(
            runs,
            gold=gold,
            rules=DEFAULT_RULES,
            embedder=embedder,
            judge_min_yes=min_yes,
            asked=asked,
        )

    judge = settings.KB_CLAIM_JUDGE
    shipped_claims = judged(settings.KB_CLAIM_JUDGE_MIN_YES) if judge else None

    result = {
        "rescored_from": str(path),
        "questions": {kind: sum(r.kind == kind for r in runs) for kind in answers.KINDS},
        **answers.report(
            shipped_claims or rechecked(DEFAULT_RULES.min_terms),
            shipped_threshold=shipped,
            policy=policy,
        ),
        "claim_terms_sweep": [
            {
                "budget": budget,
                "min_terms": share,
                **answers.rates(answers.with_evidence_policy(group, policy), shipped)["all"],
            }
            for share in CLAIM_TERMS_SWEEP
            for budget, group in answers.by_budget(rechecked(share)).items()
        ],
        "without_recitation": [
            {
                "budget": budget,
                **answers.rates(answers.with_evidence_policy(group, policy), shipped)["all"],
            }
            for budget, group in answers.by_budget(
                answers.with_claims_rechecked(
                    runs,
                    gold=gold,
                    rules=DEFAULT_RULES,
                    embedder=embedder,
                    recitation=False,
                    asked=asked,
                )
            ).items()
        ],
        "without_second_attempt": [
            {
                "budget": budget,
                **answers.rates(
                    answers.without_second_attempt(answers.with_evidence_policy(group, policy)),
                    shipped,
                )["all"],
            }
            for budget, group in answers.by_budget(rechecked(DEFAULT_RULES.min_terms)).items()
        ],
        "claim_judge_sweep": [
            {
                "budget": budget,
                "min_yes": min_yes,
                **answers.rates(answers.with_evidence_policy(group, policy), shipped)["all"],
            }
            for min_yes in CLAIM_JUDGE_SWEEP
            for budget, group in answers.by_budget(judged(min_yes)).items()
        ],
        "command": command,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "per_question"}, indent=2))
    print(answers.summary(result), file=sys.stderr)
    return 0


def measure_answers(questions: dict[str, list[Question]], *, args: argparse.Namespace) -> Json:
    """After `measure`, over the same index (the stores are re-opened on demand)."""
    from django.conf import settings

    from kb.models import Document
    from kb.stores.factory import close_stores
    from retrieval.claim_support import DEFAULT_RULES
    from retrieval.factory import claim_embedder, refusal_policy

    ask = build_asker(
        limit=args.limit,
        graph_hops=args.graph_hops,
        translate=args.translate,
        username="answers-reader",
    )
    names = dict(Document.objects.values_list("id", "source_filename"))
    budgets = args.prompt_budgets or [settings.KB_PROMPT_TOKEN_BUDGET]
    with Timed() as timed:
        runs = answers.answer_all(
            questions, ask, names=names, hops=args.graph_hops, budgets=budgets
        )
    close_stores()
    if settings.KB_CLAIM_JUDGE:  # the run recorded every judgement: applied at the setting
        gold = {q.id: answers.gold_names(q) for group in questions.values() for q in group}
        runs = answers.with_claims_rechecked(
            runs,
            gold=gold,
            rules=DEFAULT_RULES,
            embedder=claim_embedder(),
            judge_min_yes=settings.KB_CLAIM_JUDGE_MIN_YES,
            asked={q.id: q.text for group in questions.values() for q in group},
        )
    return {
        "model": settings.KB_LLM_MODEL_NAME,
        "questions": {kind: len(group) for kind, group in questions.items()},
        "wall_s": round(timed.seconds, 1),
        "other_processes_cpu_share": timed.other_share,
        **answers.report(
            runs,
            shipped_threshold=settings.KB_ANSWERABILITY_MIN_YES,
            policy=refusal_policy(),
        ),
        "code": code_state(("ingestion", "kb", "retrieval")),
    }


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
    from retrieval.factory import refusal_policy

    corpus = index_corpus(files)
    ask = build_asker(limit=args.limit, graph_hops=args.graph_hops, translate=args.translate)
    weights = ask.shipped.weights
    policy = refusal_policy()
    shipped = ask.retriever(weights)
    with Timed() as timed:
        outcomes = [ask(q, shipped) for q in [*answerable, *unanswerable]]
    bm25 = Bm25Baseline(corpus)
    for outcome in outcomes:
        outcome.rankings["bm25s"] = bm25.search(outcome.question.text, limit=args.limit)
    candidate_retriever = ask.retriever(
        args.candidate,
        script_aware=args.candidate_script_aware,
        other_script_factor=args.candidate_other_script,
    )
    candidate = [ask(o.question, candidate_retriever) for o in outcomes]
    for outcome, other in zip(outcomes, candidate, strict=True):
        outcome.rankings[CANDIDATE] = other.rankings["fused"]
    gate = None
    if args.translate:
        gate = gate_sweep(
            outcomes,
            ask,
            {
                "weights": args.candidate,
                "script_aware": args.candidate_script_aware,
                "other_script_factor": args.candidate_other_script,
            },
        )
    answered = [o for o in outcomes if o.question.gold]
    ask.replay_only()
    alternatives = fusion_alternatives(answered, corpus, ask, limit=args.limit)
    close_stores()
    result = {
        "machine": {**machine(), "load_avg_1m_start_end": [load_before[0], os.getloadavg()[0]]},
        "corpus": {**corpus_summary(files), **corpus.ingest},
        "questions": report.question_counts(answerable, unanswerable, devset=devset(args)),
        "setup": {
            **report.setup(settings, weights, args.limit, ask.top_k),
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
        "translation_gate": gate,
        "refusal": {
            "settings_weights": calibrate(outcomes, policy),
            "candidate": calibrate(candidate, policy),
        },
        "query_seconds": {
            "all_paths_and_evidence_wall": round(timed.seconds, 2),
            "per_question_mean_ms": report.latencies(ask, bm25, len(outcomes)),
        },
        "per_question": [report.per_question(o, corpus) for o in outcomes],
        "code": code_state(("ingestion", "kb", "retrieval")),
    }
    return result, report.runs(outcomes, corpus)
