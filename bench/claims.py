"""Answer claims: how well the production claim check (retrieval.answer_checks) tells a
sentence its passages support from one they do not.

- Set: bench/devset/claims.jsonl, one labelled answer sentence a line, written the way the
  answering model (a small Qwen2.5) writes them: short, `[n]` markers, in the question's language;
  each with the passages of its prompt (real text of the manuals the other benchmarks use), the
  label and the kind of sentence (paraphrase, merge, wrong-name, wrong-number, contradiction,
  near-miss, added-detail). Chinese and Russian sentences about English passages are the
  cross-language pairs.
- Production path: the passages become `retrieval.types.Passage`s, the sentence goes through
  `retrieval.citations.CitationFilter` (which passages it cites, as the answerer computes it) and
  `retrieval.answer_checks.check_answer`. A sentence is flagged when the check does not serve it
  as is (ungrounded, or blocked).
- Figures, for flagging ("unsupported" is the positive class) and for "supported": accuracy,
  precision and recall, overall, on each half of the set, per language, same-language against
  cross-language, per kind. The halves are fixed by a hash of the id: tune a checker on one,
  confirm on the other.
- Baselines in the same run: everything supported, and the share of the sentence's content terms
  (kb.text.sparse.tokenize) found in the passages it cites, flagged below a threshold chosen on
  the other half.
- Time: the set cut into answers of 5 sentences (passages renumbered), each checked as one answer
  text, several rounds after a warm-up; median and p95 per answer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common.devset import DEVSET
from bench.common.environment import Timed, code_state, machine
from bench.common.metrics import percentiles

HELP = "answer-claim check: accuracy on labelled sentences (en/zh/ru), halves, baselines, time"
CLAIMS = DEVSET / "claims.jsonl"
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "claims.json"
ANSWER_SENTENCES = 5
DEFAULT_ROUNDS = 20
HALVES = ("A", "B")
OVERLAP_THRESHOLDS = tuple(round(0.05 * step, 2) for step in range(1, 20))
JUDGE_THRESHOLDS = (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)
# The language a source's pages are written in (a pair is cross-language when they differ).
SOURCE_LANGS = {
    "debian-handbook/en-US": "en",
    "debian-handbook/zh-CN": "zh",
    "debian-handbook/ru-RU": "ru",
    "postgresql-doc-15": "en",
}
LANGS = ("en", "zh", "ru")
_MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
Json = dict[str, Any]


class InvalidSet(ValueError):
    pass


@dataclass(frozen=True)
class Source:
    n: int
    source: str
    file: str
    text: str

    @property
    def lang(self) -> str:
        return SOURCE_LANGS.get(self.source, "")


@dataclass(frozen=True)
class Item:
    id: str
    lang: str
    sentence: str
    passages: tuple[Source, ...]
    supported: bool
    kind: str

    @property
    def cross_language(self) -> bool:
        """The sentence is in another language than one of its passages."""
        return any(p.lang != self.lang for p in self.passages)

    @property
    def pairing(self) -> str:
        return "cross-language" if self.cross_language else "same-language"

    @property
    def half(self) -> str:
        return half_of(self.id)


@dataclass(frozen=True)
class Scores:
    """Counts with "unsupported" as the positive class: a flagged unsupported sentence is a true
    positive, a flagged supported one a false positive."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def as_json(self) -> Json:
        return {
            "n": self.n,
            "unsupported": self.tp + self.fn,
            "supported": self.fp + self.tn,
            "accuracy": ratio(self.tp + self.tn, self.n),
            "flag_precision": ratio(self.tp, self.tp + self.fp),
            "flag_recall": ratio(self.tp, self.tp + self.fn),
            "supported_precision": ratio(self.tn, self.tn + self.fn),
            "supported_recall": ratio(self.tn, self.tn + self.fp),
            "counts": {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn},
        }


def ratio(part: int, whole: int) -> float | None:
    """Rounded to 3 places; None when nothing was counted (a precision with no prediction)."""
    return round(part / whole, 3) if whole else None


def score(pairs: Iterable[tuple[bool, bool]]) -> Scores:
    """Scores of (supported, flagged) pairs: the label and the checker's decision."""
    tp = fp = fn = tn = 0
    for supported, flagged in pairs:
        if flagged and not supported:
            tp += 1
        elif flagged:
            fp += 1
        elif not supported:
            fn += 1
        else:
            tn += 1
    return Scores(tp, fp, fn, tn)


def half_of(item_id: str) -> str:
    """A or B, fixed by the id alone: adding sentences never moves the existing ones."""
    return HALVES[hashlib.sha256(item_id.encode("utf-8")).digest()[0] % 2]


def load_items(path: Path = CLAIMS, only: str = "") -> list[Item]:
    wanted = {i for i in only.split(",") if i}
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                items.append(parse_item(json.loads(line)))
            except (KeyError, TypeError, ValueError) as error:
                raise InvalidSet(f"{path.name}:{number}: {error}") from error
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise InvalidSet(f"{path.name}: duplicate ids")
    return [item for item in items if not wanted or item.id in wanted]


def parse_item(row: Json) -> Item:
    passages = tuple(
        Source(int(p["n"]), str(p["source"]), str(p["file"]), str(p["text"]))
        for p in row["passages"]
    )
    numbers = [p.n for p in passages]
    if not passages or len(set(numbers)) != len(numbers):
        raise ValueError(f"{row.get('id')}: passages must be numbered, each number once")
    if row["lang"] not in LANGS or not isinstance(row["supported"], bool):
        raise ValueError(f"{row['id']}: lang in {LANGS} and supported true/false")
    if not set(markers(row["sentence"])) <= set(numbers):
        raise ValueError(f"{row['id']}: the sentence cites a passage it does not have")
    return Item(
        id=str(row["id"]),
        lang=row["lang"],
        sentence=str(row["sentence"]),
        passages=passages,
        supported=row["supported"],
        kind=str(row["kind"]),
    )


def markers(text: str) -> list[int]:
    return [int(n) for m in _MARKER.findall(text) for n in re.split(r"\s*,\s*", m)]


def renumber(sentence: str, offset: int) -> str:
    """`[1]` becomes `[1 + offset]`: sentences of several items joined into one answer."""

    def shifted(match: re.Match[str]) -> str:
        numbers = re.split(r"\s*,\s*", match.group(1))
        return "[" + ", ".join(str(int(n) + offset) for n in numbers) + "]"

    return _MARKER.sub(shifted, sentence)


def answers(items: Sequence[Item], size: int = ANSWER_SENTENCES) -> list[tuple[str, list[Source]]]:
    """The items in order, cut into answers of `size` sentences (the last may be shorter), each
    with the passages of its sentences numbered one after another."""
    out = []
    for start in range(0, len(items), size):
        sentences: list[str] = []
        passages: list[Source] = []
        for item in items[start : start + size]:
            offset = len(passages)
            sentences.append(renumber(item.sentence, offset))
            passages.extend(Source(p.n + offset, p.source, p.file, p.text) for p in item.passages)
        out.append((" ".join(sentences), passages))
    return out


def choose_threshold(ratios: Sequence[tuple[bool, float]]) -> float:
    """The overlap threshold of OVERLAP_THRESHOLDS with the best accuracy on (supported, ratio)
    pairs, a sentence being flagged below it; the lowest on ties."""

    def accuracy(threshold: float) -> int:
        return sum((r < threshold) != supported for supported, r in ratios)

    return max(OVERLAP_THRESHOLDS, key=lambda t: (accuracy(t), -t))


# --- the checkers (production code imported when the run starts)


def passages_of(sources: Sequence[Source], prefix: str) -> list[Any]:
    from retrieval.types import Passage

    return [
        Passage(
            n=s.n,
            chunk_id=f"{prefix}#{s.n}",
            document_id=s.n,
            title=f"{s.source}/{s.file}",
            page=None,
            section="",
            text=s.text,
            score=1.0,
            paths=("bench",),
        )
        for s in sources
    ]


def production_check(
    text: str,
    passages: Sequence[Any],
    *,
    rules: Any = None,
    embedder: Any = None,
    judge: ModelJudge | None = None,
) -> Any:
    """What the answerer does with a finished answer: citations kept, then check_answer (with
    the production rules unless `rules` is given: the ablations), a sentence its cited passage
    does not hold recited to another that does (retrieval.attribution.recite), then, with a
    `judge`, the model's judgement of each sentence the rules found supported."""
    from retrieval.answer_checks import check_answer
    from retrieval.attribution import recite
    from retrieval.citations import CitationFilter
    from retrieval.claim_support import DEFAULT_RULES

    citations = CitationFilter({p.n for p in passages})
    text = citations.feed(text) + citations.flush()
    by_n = {p.n: p for p in passages}
    check = check_answer(
        text,
        cited=[by_n[n] for n in citations.cited],
        passages=passages,
        rules=rules or DEFAULT_RULES,
        embedder=embedder,
    )
    recited = recite(text, check, passages, rules=rules or DEFAULT_RULES).check
    if judge is None:
        return recited
    checked, _ = judge.judge.judged(recited, judge.prompt(passages), passages, judge.model)
    return checked


@dataclass(frozen=True)
class ModelJudge:
    """The claim judge with the answering model in settings (retrieval.factory.chat_model).
    The answer prompt it follows is the production template's over the item's passages with
    no question: the set's sentences come without the question they answered."""

    judge: Any  # retrieval.claim_judge.ClaimJudge
    model: Any  # kb.llm.chat.ChatModel
    template: Any  # retrieval.prompting.PromptTemplate

    def prompt(self, passages: Sequence[Any]) -> list[Any]:
        from retrieval.prompting import answer_messages

        return answer_messages(self.template, "", passages)


def model_judge(min_yes: float | None) -> ModelJudge:
    from django.conf import settings

    from kb.llm.factory import chat_model
    from retrieval.claim_judge import ClaimJudge
    from retrieval.prompting import load_template

    threshold = settings.KB_CLAIM_JUDGE_MIN_YES if min_yes is None else min_yes
    return ModelJudge(
        ClaimJudge(min_yes=threshold), chat_model(), load_template(settings.KB_PROMPT_TEMPLATE)
    )


def claim_embedder(name: str, *, cross_language: bool) -> Any:
    """The embedder the answerer would lend the check (retrieval.factory.claim_embedder)."""
    if not name:
        return None
    from django.conf import settings

    from kb.text.embeddings import load_embedder
    from retrieval.claim_support import ClaimEmbedder

    embedder = load_embedder(name, models_dir=Path(settings.KB_MODELS_DIR))
    return ClaimEmbedder(embedder, cross_language=cross_language)


def ablations(embedder: Any) -> dict[str, Any]:
    """The production rules with one signal off at a time (None: the production rules)."""
    from dataclasses import replace

    from retrieval.claim_support import DEFAULT_RULES

    variants: dict[str, Any] = {
        "all rules": None,
        "without numbers": replace(DEFAULT_RULES, numbers=False),
        "without names": replace(DEFAULT_RULES, names=False),
        "without terms": replace(DEFAULT_RULES, min_terms=0.0),
        "with negation": replace(DEFAULT_RULES, negation=True),
        "without qualifiers": replace(DEFAULT_RULES, qualifiers=False),
    }
    if embedder is not None and embedder.cross_language:
        variants["without cross-language similarity"] = replace(
            DEFAULT_RULES, min_cross_similarity=-1.0
        )
    return variants


def overlap_ratio(item: Item) -> float:
    """Share of the sentence's content terms found in the passages it cites (all of them when
    it cites none); 1.0 for a sentence without content terms."""
    from kb.text.sparse import tokenize

    terms = set(tokenize(_MARKER.sub(" ", item.sentence)))
    cited = set(markers(item.sentence))
    sources = [p for p in item.passages if p.n in cited] or list(item.passages)
    found = set().union(*(set(tokenize(p.text)) for p in sources))
    return round(len(terms & found) / len(terms), 3) if terms else 1.0


# --- the run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", type=Path, default=CLAIMS, help="labelled sentences (JSONL)")
    parser.add_argument("--only", default="", help="comma-separated ids (a smoke run)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=DEFAULT_ROUNDS,
        help="timing rounds over the 5-sentence answers (default %(default)s; with --judge one, "
        "or none with 0: the judge re-reads each answer's passages first, minutes)",
    )
    parser.add_argument(
        "--claim-embedder",
        default="",
        help="embedding model lent to the check (as KB_CLAIM_EMBED_MODEL); default none",
    )
    parser.add_argument(
        "--cross-language",
        action="store_true",
        help="the claim embedder is multilingual (as KB_CLAIM_EMBED_CROSS_LANGUAGE)",
    )
    parser.add_argument(
        "--judge",
        action="store_true",
        help="the answering model in settings also judges each sentence the rules find supported "
        "(as KB_CLAIM_JUDGE; minutes: one forward pass a sentence); the lexical check is "
        "reported beside it",
    )
    parser.add_argument(
        "--judge-min-yes",
        type=float,
        default=None,
        help="the judge's threshold (default KB_CLAIM_JUDGE_MIN_YES)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)


def run(args: argparse.Namespace, *, command: str) -> int:
    items = load_items(args.set, args.only)
    if not items:
        print("no sentences", file=sys.stderr)
        return 1
    embedder = claim_embedder(args.claim_embedder, cross_language=args.cross_language)
    judge = model_judge(args.judge_min_yes) if args.judge else None
    report = measure(items, rounds=args.rounds, embedder=embedder, judge=judge)
    if judge is not None:
        report["judge"] = {"model": judge.model.name, "min_yes": judge.judge.min_yes}
    report["claim_embedder"] = {"model": args.claim_embedder, "cross_language": args.cross_language}
    report["command"] = command
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(summary(report))
    print(f"written to {args.out}", file=sys.stderr)
    return 0


def measure(
    items: Sequence[Item], *, rounds: int, embedder: Any = None, judge: ModelJudge | None = None
) -> Json:
    """With a `judge`, "production" is the judged check and "lexical" the rules alone."""
    started = time.perf_counter()
    first = time.perf_counter()
    verdicts = [_verdict(item, embedder, judge) for item in items]
    first_pass = time.perf_counter() - first  # holds the tokenizers' warm-up (jieba's dictionary)
    thresholds = _thresholds(items, verdicts)
    for row in verdicts:
        row["overlap_flagged"] = row["overlap"] < thresholds[row["half"]]
    checkers: dict[str, Callable[[Json], bool]] = {
        "production": lambda row: row["flagged"],
        **({"lexical": lambda row: row["lexical_flagged"]} if judge else {}),
        "everything_supported": lambda row: False,
        "overlap_threshold": lambda row: row["overlap_flagged"],
    }
    return {
        "set": {
            "sentences": len(items),
            "supported": sum(item.supported for item in items),
            "unsupported": sum(not item.supported for item in items),
            "per_half": {h: sum(item.half == h for item in items) for h in HALVES},
        },
        "results": {name: breakdown(verdicts, flagged) for name, flagged in checkers.items()},
        "overlap_thresholds": {
            "chosen_on_other_half": {h: thresholds[h] for h in HALVES},
            "sweep_all": _sweep(verdicts),
        },
        "ablations": _ablations(items, verdicts, embedder) if judge is None else {},
        "judge_sweep": _judge_sweep(verdicts) if judge else {},
        "misses": {
            "unsupported_served": [
                _short(r) for r in verdicts if not r["supported"] and not r["flagged"]
            ],
            "supported_flagged": [_short(r) for r in verdicts if r["supported"] and r["flagged"]],
        },
        "timing": _timing(
            items, rounds=rounds, first_pass=first_pass, embedder=embedder, judge=judge
        ),
        "seconds": round(time.perf_counter() - started, 2),
        "machine": machine(),
        "code": code_state(("bench", "kb", "retrieval")),
        "verdicts": verdicts,
    }


def _verdict(item: Item, embedder: Any, judge: ModelJudge | None = None) -> Json:
    passages = passages_of(item.passages, item.id)
    check = production_check(item.sentence, passages, embedder=embedder, judge=judge)
    lexical = production_check(item.sentence, passages, embedder=embedder) if judge else check
    return {
        "id": item.id,
        "lang": item.lang,
        "pairing": item.pairing,
        "kind": item.kind,
        "half": item.half,
        "supported": item.supported,
        "flagged": bool(check.verdict),  # SERVED is the empty string
        "verdict": str(check.verdict) or "served",
        "claims": [[c.text, c.supported, c.judged_yes] for c in check.claims],
        "lexical_flagged": bool(lexical.verdict),
        "overlap": overlap_ratio(item),
        "sentence": item.sentence,
    }


def _ablations(items: Sequence[Item], verdicts: Sequence[Json], embedder: Any) -> Json:
    """Accuracy per half with each signal off in turn (tune on half A: compare there)."""
    out = {}
    for name, rules in ablations(embedder).items():
        rows = [
            (
                row,
                bool(
                    production_check(
                        i.sentence, passages_of(i.passages, i.id), rules=rules, embedder=embedder
                    ).verdict
                ),
            )
            if rules is not None
            else (row, row["flagged"])
            for i, row in zip(items, verdicts, strict=True)
        ]
        out[name] = {
            h: score((r["supported"], f) for r, f in rows if h in ("all", r["half"])).as_json()[
                "accuracy"
            ]
            for h in ("A", "B", "all")
        }
    return out


def _judge_sweep(verdicts: Sequence[Json]) -> Json:
    """Accuracy per half at other judge thresholds, from each claim's recorded probability
    (a claim the rules refused has none and stays unsupported; a blocked answer none)."""

    def flagged(row: Json, min_yes: float) -> bool:
        if row["verdict"] == "blocked":
            return True
        return any(
            (yes is None and not supported) or (yes is not None and yes < min_yes)
            for _, supported, yes in row["claims"]
        )

    return {
        f"{t:.2f}": {
            h: score(
                (r["supported"], flagged(r, t)) for r in verdicts if h in ("all", r["half"])
            ).as_json()["accuracy"]
            for h in ("A", "B", "all")
        }
        for t in JUDGE_THRESHOLDS
    }


def _thresholds(items: Sequence[Item], verdicts: Sequence[Json]) -> dict[str, float]:
    """Each half's overlap threshold, chosen on the other half."""
    chosen = {}
    for h in HALVES:
        other = [(r["supported"], r["overlap"]) for r in verdicts if r["half"] != h]
        chosen[h] = choose_threshold(other) if other else 0.5
    return chosen


def _sweep(verdicts: Sequence[Json]) -> dict[str, Any]:
    out = {}
    for t in OVERLAP_THRESHOLDS:
        scores = score((r["supported"], r["overlap"] < t) for r in verdicts).as_json()
        out[f"{t:.2f}"] = {k: scores[k] for k in ("accuracy", "flag_precision", "flag_recall")}
    return out


def breakdown(verdicts: Sequence[Json], flagged: Callable[[Json], bool]) -> Json:
    """Scores overall, per half, language, pairing and kind."""

    def scores(rows: Iterable[Json]) -> Json:
        return score((r["supported"], flagged(r)) for r in rows).as_json()

    def by(field: str) -> Json:
        values = sorted({r[field] for r in verdicts})
        return {v: scores(r for r in verdicts if r[field] == v) for v in values}

    return {
        "all": scores(verdicts),
        "half": by("half"),
        "lang": by("lang"),
        "pairing": by("pairing"),
        "kind": by("kind"),
    }


def _timing(
    items: Sequence[Item],
    *,
    rounds: int,
    first_pass: float,
    embedder: Any,
    judge: ModelJudge | None = None,
) -> Json:
    """With a judge, one round: before each answer the model evaluates its prompt (as it
    has when the answerer checks what it just wrote), so the time is the judge's own."""
    groups = [(text, passages_of(sources, "answer")) for text, sources in answers(items)]
    rounds = min(rounds, 1) if judge else rounds  # --rounds 0: no timing
    samples: list[float] = []
    with Timed() as timed:
        for _ in range(rounds):
            for text, passages in groups:
                if judge is not None:
                    judge.model.chat(judge.prompt(passages), max_tokens=1)
                start = time.perf_counter()
                production_check(text, passages, embedder=embedder, judge=judge)
                samples.append((time.perf_counter() - start) * 1000)
    return {
        "answers": len(groups),
        "sentences_per_answer": ANSWER_SENTENCES,
        "rounds": rounds,
        "ms_per_answer": percentiles(samples),
        "median_ms": round(statistics.median(samples), 2) if samples else None,
        "first_pass_seconds": round(first_pass, 2),
        "other_processes_share": timed.other_share,
    }


def _short(row: Json) -> Json:
    return {k: row[k] for k in ("id", "lang", "pairing", "kind", "sentence")}


def summary(report: Json) -> str:
    s = report["set"]
    lines = [
        f"{s['sentences']} sentences ({s['supported']} supported, {s['unsupported']} not; "
        f"halves {s['per_half']['A']}/{s['per_half']['B']})",
        f"{'checker':22} {'slice':24} {'n':>4} {'acc':>6} {'flagP':>6} {'flagR':>6} "
        f"{'supP':>6} {'supR':>6}",
    ]
    for name, result in report["results"].items():
        rows = [("all", result["all"])]
        if name == "production":
            for group in ("half", "lang", "pairing", "kind"):
                rows += [(f"{group}={k}", v) for k, v in result[group].items()]
        else:
            rows += [(f"half={k}", v) for k, v in result["half"].items()]
        for label, scores in rows:
            lines.append(
                f"{name:22} {label:24} {scores['n']:4} "
                + " ".join(
                    _cell(scores[key])
                    for key in (
                        "accuracy",
                        "flag_precision",
                        "flag_recall",
                        "supported_precision",
                        "supported_recall",
                    )
                )
            )
    lines.append(f"{'ablation (accuracy)':40} {'A':>6} {'B':>6} {'all':>6}")
    for name, accuracy in report["ablations"].items():
        lines.append(f"{name:40} " + " ".join(_cell(accuracy[h]) for h in ("A", "B", "all")))
    for threshold, accuracy in report.get("judge_sweep", {}).items():
        lines.append(
            f"{'judge at ' + threshold:40} "
            + " ".join(_cell(accuracy[h]) for h in ("A", "B", "all"))
        )
    chosen = report["overlap_thresholds"]["chosen_on_other_half"]
    timing = report["timing"]
    lines.append(f"overlap thresholds (chosen on the other half): A {chosen['A']}, B {chosen['B']}")
    lines.append(
        f"time per {timing['sentences_per_answer']}-sentence answer: median "
        f"{timing['ms_per_answer'].get('p50')} ms, p95 {timing['ms_per_answer'].get('p95')} ms "
        f"({timing['answers']} answers x {timing['rounds']} rounds; first pass over the set "
        f"{timing['first_pass_seconds']} s with warm-up; other processes "
        f"{timing['other_processes_share']:.0%} of the CPU)"
    )
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    return f"{value:6.3f}" if value is not None else f"{'-':>6}"
