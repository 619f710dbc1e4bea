"""`python -m bench quality --answers`: whole answers from the production Answerer and the
model in settings (the default model unless KB_LLM_MODEL_NAME says otherwise), on the
answerable, near-miss and off-topic questions of the dev set.

Reported: false refusals and gold-cited answers on answerable questions, false answers on
near-miss and off-topic ones, per language and per split, and what the answerability check
costs. With `--pdf` or `--crosslingual`, their own questions and the off-topic ones (the near
misses are about the HTML pages); a PDF question's answer cites its gold only by citing a gold
page (`gold_names`). The run generates every answer with the check's threshold at 0 and
records its probability, so the rates at any threshold are exact from one run: a question
counts as refused at threshold t when it was refused without the check (weak evidence, the
model's own non-answer, no supported sentence) or its probability is below t. Likewise the evidence
thresholds (KB_REFUSAL_*) are 0 in the run and the evidence of every form searched is
recorded, so the `no_evidence` refusal at any thresholds is exact too (`with_evidence_policy`).

Each question is answered once per prompt budget asked for (KB_PROMPT_TOKEN_BUDGET, in turn,
so both see the same machine), and each budget is reported on its own: what a shorter prompt
saves in time to first token beside what it costs in answers. Only the first budget asked
translates a question (the others find it in the cache), so every budget's times count the
translation as uncached (`with_uncached_translations`).
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common.devset import Question
from bench.quality.metrics import gold_pages, page_unit

if TYPE_CHECKING:
    from bench.quality.search import Asker
    from retrieval.answer_checks import AnswerCheck, Claim
    from retrieval.answerer import Answer, Answerer
    from retrieval.claim_support import ClaimEmbedder, ClaimRules
    from retrieval.evidence import RefusalPolicy

Json = dict[str, Any]
THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7)
KINDS = ("answerable", "near_miss", "off_topic")
_PAGE_SUFFIX = re.compile(r"#p\d+$")  # the page `metrics.page_unit` appends
# Code in an answer, left out when its language is read (after its fenced blocks): citation
# markers and `spans`, then ASCII words with a character prose words lack (/etc/fstab,
# pg_hba.conf, --full, $HOME, <name>, 15:00); CJK text has no spaces: only ASCII runs are words.
_CODE = re.compile(r"`[^`\n]*`|\[\d+\]")
_CODE_WORD = re.compile(r"[!-~]*(?:[/_=<>$\\|\d]|[A-Za-z]\.[A-Za-z])[!-~]*|(?<![!-~])-[!-~]+")
_SENTENCE_END = re.compile(r"[.!?。！？\n]+")
# Evidence thresholds (KB_REFUSAL_*) scaled by these, all at once, in the report's sweep.
EVIDENCE_SCALES = (1.0, 0.95, 0.9, 0.85, 0.8, 0.7, 0.0)


@dataclass(frozen=True)
class AnswerRun:
    """One question's answer, as much as the rates and the report need; also one JSON line of
    the run's output (`row`, `from_row`), from which `--answers-rescore` reports."""

    id: str
    kind: str  # one of KINDS
    lang: str
    split: str
    refusal: str  # retrieval.refusals.RefusalReason with the check at threshold 0
    probability: float | None  # the check's P(yes); None when refused before it
    gold_hit: bool  # the answer cites its gold (answerable questions; `cites_gold`)
    cited: tuple[str, ...]
    text: str
    latencies_ms: dict[str, float]
    # What the model read: (corpus name, passage text) in prompt order, and the question's
    # translations that were searched (Retrieval.translations); for studying refusal signals
    # offline.
    passages: tuple[tuple[str, str], ...] = ()
    translations: tuple[str, ...] = ()
    # The claim check's sentences (text, supported): an `unsupported` refusal's answer too.
    claims: tuple[tuple[str, bool], ...] = ()
    # The model judge's probability of "yes" for each of those sentences (None: not judged);
    # empty in rows written before it existed or with it off.
    claim_yes: tuple[float | None, ...] = ()
    # The model wrote no citation marker and retrieval.attribution gave them (Answer.attributed).
    attributed: bool = False
    budget: int = 0  # KB_PROMPT_TOKEN_BUDGET of the answer (0: every passage whole)
    prompt_tokens: int = 0  # what the model read, when it was asked
    # (dense, coverage, latin script) of each form searched, as asked first: the evidence the
    # refusal thresholds judge (retrieval.evidence); empty in rows written before.
    evidence: tuple[tuple[float, float, bool], ...] = ()
    # The model's first answer when none of its sentences was supported and the one it wrote
    # when asked again replaced it (Answer.first_attempt; `claims` are then the second's; a
    # second non-answer leaves the first's); "" otherwise. Asked again: "second_attempt" in
    # latencies_ms.
    first_attempt: str = ""

    def refused_at(self, threshold: float) -> bool:
        if self.refusal:
            return True
        return self.probability is not None and self.probability < threshold

    def gold_cited(self, threshold: float) -> bool:
        return self.gold_hit and not self.refused_at(threshold)

    def row(self) -> Json:
        return {
            "id": self.id,
            "kind": self.kind,
            "lang": self.lang,
            "split": self.split,
            "refusal": self.refusal,
            "p_yes": None if self.probability is None else round(self.probability, 4),
            "gold_hit": self.gold_hit,
            "cited": list(self.cited),
            "answer": self.text,
            "ms": {k: round(v) for k, v in self.latencies_ms.items()},
            "passages": [list(p) for p in self.passages],
            "translations": list(self.translations),
            "claims": [list(c) for c in self.claims],
            "claim_yes": list(self.claim_yes),
            "attributed": self.attributed,
            "budget": self.budget,
            "prompt_tokens": self.prompt_tokens,
            # Unrounded: the rescore compares them with the thresholds as the Answerer did.
            "evidence": [list(form) for form in self.evidence],
            "first_attempt": self.first_attempt,
        }

    @classmethod
    def from_row(cls, row: Json) -> AnswerRun:
        return cls(
            id=row["id"],
            kind=row["kind"],
            lang=row["lang"],
            split=row["split"],
            refusal=row["refusal"],
            probability=row["p_yes"],
            gold_hit=row["gold_hit"],
            cited=tuple(row["cited"]),
            text=row["answer"],
            latencies_ms=row["ms"],
            passages=tuple((name, text) for name, text in row.get("passages", [])),
            translations=_translations(row),
            claims=tuple((text, supported) for text, supported in row.get("claims", [])),
            claim_yes=tuple(row.get("claim_yes", [])),
            attributed=row.get("attributed", False),
            budget=row.get("budget", 0),
            prompt_tokens=row.get("prompt_tokens", 0),
            evidence=tuple((d, c, latin) for d, c, latin in row.get("evidence", [])),
            first_attempt=row.get("first_attempt", ""),
        )


def load_rows(path: Path) -> list[AnswerRun]:
    """The runs of an answers output: its JSON report, or the JSON lines a run printed (an
    interrupted run's log)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return [AnswerRun.from_row(row) for row in json.loads(text)["per_question"]]
    lines = [line for line in text.splitlines() if line.startswith('{"n": ')]
    return [AnswerRun.from_row(json.loads(line)) for line in lines]


def _translations(row: Json) -> tuple[str, ...]:
    """The row's translations searched. Rows written before they were recorded hold the
    question's English translation whether or not it was searched: it was when the row's
    times include one ("translate")."""
    if "translations" in row:
        return tuple(row["translations"])
    searched = row.get("translation") and "translate" in row["ms"]
    return (row["translation"],) if searched else ()


def with_evidence_policy(runs: Sequence[AnswerRun], policy: RefusalPolicy) -> list[AnswerRun]:
    """The runs as `policy`'s evidence thresholds would have left them: exact, since that
    refusal comes first and reads only the recorded evidence. A run it refuses is
    `no_evidence` whatever happened after; rows without evidence keep their result."""
    from dataclasses import replace

    from retrieval.evidence import Evidence

    updated = []
    for run in runs:
        forms = [Evidence(dense, coverage, latin) for dense, coverage, latin in run.evidence]
        if forms and policy.refuses_all(*forms):
            run = replace(
                run, refusal="no_evidence", probability=None, gold_hit=False, cited=(), claims=()
            )
        updated.append(run)
    return updated


def by_budget(runs: Sequence[AnswerRun]) -> dict[int, list[AnswerRun]]:
    """The runs of each prompt budget, in the order the run asked for them."""
    groups: dict[int, list[AnswerRun]] = {}
    for run in runs:
        groups.setdefault(run.budget, []).append(run)
    return groups


def with_uncached_translations(runs: Sequence[AnswerRun]) -> list[AnswerRun]:
    """The runs with each question's translation timed as if not cached: the first budget
    asked translates the question and the others find it in the cache, which would make them
    look faster by that much. Each row's times from the start (sources, first token, whole)
    get the question's slowest translation in place of its own."""
    from dataclasses import replace

    slowest: dict[str, float] = {}
    for run in runs:
        took = run.latencies_ms.get("translate", 0.0)
        slowest[run.id] = max(slowest.get(run.id, 0.0), took)
    updated = []
    for run in runs:
        ms = dict(run.latencies_ms)
        if "translate" in ms:
            added = slowest[run.id] - ms["translate"]
            timed = ("translate", "sources", "first_token", "total")
            ms.update({k: ms[k] + added for k in timed if k in ms})
        updated.append(replace(run, latencies_ms=ms))
    return updated


def with_uncovered_names(runs: Sequence[AnswerRun], texts: Mapping[str, str]) -> list[AnswerRun]:
    """The runs as the pre-model `not_covered` refusal (retrieval.refusals.missing_names over
    the recorded passages; KB_REFUSE_UNCOVERED_NAMES) would have left them, for rows recorded
    before it existed: it reads only the question (`texts` by id), its recorded translations
    and the passages, and comes before the model. Not exact since the refusal also accepts a
    name the rest of the passages' documents mention (Retriever.mentioned), which rows do not
    hold: such a question is refused here though answers pass it to the model. Rows refused
    before the model keep their reason."""
    from dataclasses import replace

    from retrieval.refusals import missing_names
    from retrieval.types import Passage

    updated = []
    for run in runs:
        passages = [
            Passage(n, "", 0, name, None, "", text, 0.0, ())
            for n, (name, text) in enumerate(run.passages, 1)
        ]
        # A row at a prompt budget records only the passages that fit, not all that were
        # judged: it keeps the reason the run gave.
        reached_model = run.refusal != "no_evidence" and bool(passages) and run.budget == 0
        if reached_model and missing_names(texts[run.id], run.translations, passages):
            run = replace(run, refusal="not_covered", probability=None)
        updated.append(run)
    return updated


def with_claims_rechecked(
    runs: Sequence[AnswerRun],
    *,
    gold: Mapping[str, AbstractSet[str]],
    rules: ClaimRules,
    embedder: ClaimEmbedder | None = None,
    judge_min_yes: float | None = None,
    recitation: bool = True,
    asked: Mapping[str, str] | None = None,
) -> list[AnswerRun]:
    """The runs as the claim check with `rules` would have left them: its sentences (recorded
    with their citation markers) are checked again against the recorded passages, numbered
    1..n in prompt order as the answer cited them (or as retrieval.attribution cites them
    for an answer without markers), and what they cite against the question's `gold`
    documents (by id; a refusal recorded no citations). Exact for the `unsupported`
    refusal, which reads nothing else; a run refused for another reason, or answered without
    a checked sentence, keeps its result. With `judge_min_yes` (the model judge on), a
    sentence the rules find supported stays so only when its recorded probability of "yes"
    reaches it (retrieval.claim_judge); a run that recorded no judgements keeps the rules'
    verdict, and a sentence recited to another passage (retrieval.attribution.recite, unless
    `recitation` is off) was not judged in a run before recitation: it stays supported.
    `asked` (question id -> text) lets the check refuse sentences that restate the question,
    as the Answerer does."""
    from dataclasses import replace

    from retrieval.answer_checks import check_answer
    from retrieval.attribution import as_written, attribute, recite
    from retrieval.citations import cited_in
    from retrieval.types import Passage

    updated = []
    for run in runs:
        if not run.claims or run.refusal not in ("", "unsupported"):
            updated.append(run)
            continue
        text = "\n".join(claim for claim, _ in run.claims)  # each stays a sentence of its own
        passages = [
            Passage(n, "", 0, name, None, "", passage, 0.0, ())
            for n, (name, passage) in enumerate(run.passages, 1)
        ]
        valid = {p.n for p in passages}
        question = asked.get(run.id, "") if asked else ""
        check = check_answer(
            text,
            cited=[passages[n - 1] for n in cited_in(text, valid)],
            passages=passages,
            question=question,
            rules=rules,
            embedder=embedder,
        )
        if recitation:  # as the Answerer
            recited = recite(text, check, passages, rules=rules)
            text, check = recited.text, recited.check
        if judge_min_yes is not None:
            check = _judged(check, run, judge_min_yes)
        marked = cited_in(text, valid)
        numbers = marked or attribute(text, check, passages, question=question).cited
        cited = tuple(run.passages[n - 1][0] for n in numbers)
        updated.append(
            replace(
                run,
                refusal="unsupported" if check.nothing_supported else "",
                claims=tuple((as_written(c), c.supported) for c in check.claims),
                cited=cited,
                gold_hit=cites_gold(gold.get(run.id, set()), cited),
                attributed=bool(numbers) and not marked,
            )
        )
    return updated


def _judged(check: AnswerCheck, run: AnswerRun, min_yes: float) -> AnswerCheck:
    """`check` with the run's recorded judgements at `min_yes`, as ClaimJudge.judged would
    have left it; unchanged for a run that recorded none (or whose sentences split
    otherwise): the rules' verdict stands."""
    from retrieval.claim_judge import with_judgements

    if len(run.claim_yes) != len(check.claims):
        return check
    return with_judgements(check, run.claim_yes, min_yes)


def answer_all(
    questions: Mapping[str, Sequence[Question]],
    ask: Asker,
    *,
    names: dict[int, str],
    hops: int,
    budgets: Sequence[int],
) -> list[AnswerRun]:
    """Every question through the production Answerer (retrieval.factory.default_answerer) with
    the run's path limit and graph hops, as the benchmark's reader, once per prompt budget;
    `names` maps document ids to the files' corpus names."""
    answerers = {budget: _answerer(ask, hops=hops, budget=budget) for budget in budgets}
    runs = []
    for number, (kind, question) in enumerate(_interleaved(questions), 1):
        for budget, answerer in answerers.items():
            run = _answered(answerer, question, kind, ask, names=names, budget=budget)
            runs.append(run)
            # One JSON line per answer: an interrupted run can still be scored.
            print(json.dumps({"n": number, **run.row()}, ensure_ascii=False), flush=True)
    return runs


def _answerer(ask: Asker, *, hops: int, budget: int) -> Answerer:
    """The production Answerer with the answerability check, the claim judge (when on) and the
    evidence thresholds at 0 (their refusals are applied afterwards from what the run
    records)."""
    from django.test import override_settings

    from retrieval.factory import default_answerer

    with override_settings(
        KB_ANSWERABILITY_CHECK=True,
        KB_ANSWERABILITY_MIN_YES=0.0,
        KB_CLAIM_JUDGE_MIN_YES=0.0,  # every judgement is recorded and applied afterwards
        KB_REFUSAL_MIN_DENSE=0.0,
        KB_REFUSAL_MIN_COVERAGE=0.0,
        KB_REFUSAL_OTHER_MIN_DENSE=0.0,
        KB_REFUSAL_OTHER_MIN_COVERAGE=0.0,
        KB_PROMPT_TOKEN_BUDGET=budget,
        KB_RETRIEVAL_PATH_LIMIT=ask.shipped.path_limit,
        KB_GRAPH_HOPS=hops,
    ):
        return default_answerer()


def _answered(
    answerer: Answerer,
    question: Question,
    kind: str,
    ask: Asker,
    *,
    names: dict[int, str],
    budget: int,
) -> AnswerRun:
    from retrieval.answerer import Answer

    _forget_previous_prompt(answerer)
    answer = _final(
        answerer.stream(
            question.text,
            scope=ask.scope,
            allowed=ask.allowed,
            top_k=ask.top_k,
            document_scripts=ask.document_scripts,
        ),
        Answer,
    )
    cited = tuple(cited_name(names.get(p.document_id, ""), p.page) for p in answer.cited)
    forms = (answer.retrieval.evidence, *answer.retrieval.translated_evidence)
    return AnswerRun(
        id=question.id,
        kind=kind,
        lang=question.lang,
        split=question.split,
        refusal=str(answer.refusal),
        probability=answer.answerability,
        gold_hit=cites_gold(gold_names(question), cited),
        cited=cited,
        text=answer.text,
        latencies_ms=dict(answer.latencies_ms),
        passages=tuple(
            (cited_name(names.get(p.document_id, ""), p.page), p.text) for p in answer.passages
        ),
        translations=answer.retrieval.translations,
        claims=tuple((_as_written(c, answer), c.supported) for c in answer.check.claims),
        claim_yes=tuple(c.judged_yes for c in answer.check.claims),
        attributed=answer.attributed,
        budget=budget,
        prompt_tokens=answer.usage.prompt_tokens,
        evidence=tuple((e.dense, e.coverage, e.latin_script) for e in forms),
        first_attempt=answer.first_attempt,
    )


def cited_name(name: str, page: int | None) -> str:
    """How a passage an answer read is recorded: its document's corpus name, and the physical
    page of a paged one (`metrics.page_unit`: "gnuplot-doc/gnuplot.pdf#p167")."""
    return page_unit(name, page) if page else name


def gold_names(question: Question) -> set[str]:
    """What an answer must cite to cite the question's gold: one of its gold pages (the PDF
    manuals) or, for a gold entry without a page, its document."""
    return gold_pages(question) | {entry.document for entry in question.gold if not entry.page}


def cites_gold(gold: AbstractSet[str], cited: Iterable[str]) -> bool:
    """Whether `cited` (recorded by `cited_name`) holds one of `gold`: a page, or a page's
    document when the gold is page-less."""
    names = set(cited)
    documents = {_PAGE_SUFFIX.sub("", name) for name in names}
    return bool(gold & (names | documents))


def _forget_previous_prompt(answerer: Answerer) -> None:
    """Leaves the model's cache holding the system prompt and no passages, as after another
    question: llama.cpp re-uses the longest prefix of the previous prompt, so an answer at one
    budget would otherwise start from the same question's passages read at the other, and
    its time to first token would be too short."""
    from retrieval.prompting import answer_messages

    answerer.model().chat(answer_messages(answerer.template, "", []), max_tokens=1)


def _as_written(claim: Claim, answer: Answer) -> str:
    """A claim as the model wrote it: without the markers retrieval.attribution added, with
    those it replaced, so that a rescore checks it as the Answerer did and cites it again. A
    claim checked against other passages than its text's markers name (those opening the next
    sentence, "… 12 minutes. [3] Backups …", which the splitter gives to that one, or none in
    an answer citing some passages) is written with markers for those passages."""
    from retrieval.answer_checks import marker_numbers, without_markers
    from retrieval.attribution import as_written, unmarked, with_marker

    if answer.attributed:
        return unmarked(claim.text)
    if claim.recited_from is not None:
        return as_written(claim)
    written = set(marker_numbers(claim.text))
    everything = {p.n for p in answer.passages}
    unmarked_answer = not any(marker_numbers(c.text) for c in answer.check.claims)
    if written == set(claim.passages) or (unmarked_answer and set(claim.passages) == everything):
        return claim.text  # the latter checked against every passage, as a rescore does
    sentence = without_markers(claim.text)
    for n in claim.passages:
        sentence = with_marker(sentence, n)
    return sentence


def _interleaved(questions: Mapping[str, Sequence[Question]]) -> list[tuple[str, Question]]:
    """The kinds taken in turn, so any prefix of the run holds each kind in proportion."""
    keyed = [
        ((index + 0.5) / len(group), kind, question)
        for kind, group in questions.items()
        for index, question in enumerate(group)
    ]
    return [(kind, question) for _, kind, question in sorted(keyed, key=lambda item: item[0])]


def _final(stream: Iterable[Any], kind: type) -> Any:
    last = None
    for item in stream:
        last = item
    if not isinstance(last, kind):
        raise RuntimeError("the answer stream ended without an answer")
    return last


def report(runs: Sequence[AnswerRun], *, shipped_threshold: float, policy: RefusalPolicy) -> Json:
    """Per prompt budget: the rates at the shipped thresholds (answerability and `policy`'s
    evidence thresholds), without the answerability check, across THRESHOLDS and across
    EVIDENCE_SCALES; every answer's row."""
    return {
        "shipped_threshold": shipped_threshold,
        "per_budget": [
            {"budget": budget, **_budget_report(group, shipped_threshold, policy)}
            for budget, group in by_budget(with_uncached_translations(runs)).items()
        ],
        "per_question": [run.row() for run in runs],
    }


def _budget_report(runs: Sequence[AnswerRun], threshold: float, policy: RefusalPolicy) -> Json:
    judged = with_evidence_policy(runs, policy)
    return {
        "at_shipped": rates(judged, threshold),
        "without_check": rates(judged, 0.0),
        "sweep": [{"threshold": t, **rates(judged, t)["all"]} for t in THRESHOLDS],
        "evidence_sweep": [
            {
                "scale": scale,
                **rates(with_evidence_policy(runs, scaled(policy, scale)), threshold)["all"],
            }
            for scale in EVIDENCE_SCALES
        ],
        "check_ms": _check_cost(judged),
        "refusal_reasons": _reasons(judged),
        "without_second_attempt": rates(without_second_attempt(judged), threshold)["all"],
        "second_attempts": _second_attempts(judged),
    }


def without_second_attempt(runs: Sequence[AnswerRun]) -> list[AnswerRun]:
    """The runs as they stood before the model was asked to answer again: a run whose second
    answer replaced its unsupported first one is refused, as the first was (under the checks
    of the run: only the second's sentences are recorded). One whose second answer was a
    non-answer recorded the first's sentences, and keeps their verdict."""
    from dataclasses import replace

    return [
        replace(run, refusal="unsupported", cited=(), gold_hit=False)
        if run.first_attempt and not run.refusal
        else run
        for run in runs
    ]


def _second_attempts(runs: Sequence[AnswerRun]) -> Json:
    """How many questions were asked again, per kind and how they ended, how many second
    answers replaced the first, and the time the second attempt took (ms, mean and median)."""
    again = [r for r in runs if "second_attempt" in r.latencies_ms]
    ms = [r.latencies_ms["second_attempt"] for r in again]
    return {
        "asked": len(again),
        "ended": _reasons(again),
        "replaced": sum(bool(r.first_attempt) for r in again),
        "ms_mean": round(statistics.fmean(ms), 1) if ms else None,
        "ms_p50": round(statistics.median(ms), 1) if ms else None,
    }


def scaled(policy: RefusalPolicy, scale: float) -> RefusalPolicy:
    """`policy` with every evidence threshold times `scale`."""
    from retrieval.evidence import RefusalPolicy

    def times(value: float | None) -> float | None:
        return None if value is None else value * scale

    return RefusalPolicy(
        min_dense=policy.min_dense * scale,
        min_coverage=policy.min_coverage * scale,
        other_min_dense=times(policy.other_min_dense),
        other_min_coverage=times(policy.other_min_coverage),
    )


def rates(runs: Sequence[AnswerRun], threshold: float) -> Json:
    """The three error rates over all questions, per language, and per split of the near-miss
    and of the answerable questions."""
    languages = sorted({run.lang for run in runs})
    splits = sorted({run.split for run in runs if run.kind == "near_miss"})
    answerable_splits = sorted({run.split for run in runs if run.kind == "answerable"})
    return {
        "all": _rates(runs, threshold),
        "by_lang": {
            lang: _rates([r for r in runs if r.lang == lang], threshold) for lang in languages
        },
        "near_miss_by_split": {
            split: _rates(
                [r for r in runs if r.kind == "near_miss" and r.split == split], threshold
            )
            for split in splits
        },
        "answerable_by_split": {
            split: _rates(
                [r for r in runs if r.kind == "answerable" and r.split == split], threshold
            )
            for split in answerable_splits
        },
    }


def _rates(runs: Sequence[AnswerRun], threshold: float) -> Json:
    answerable = [r for r in runs if r.kind == "answerable"]
    answered = [r for r in answerable if not r.refused_at(threshold)]
    near_miss = [r for r in runs if r.kind == "near_miss"]
    off_topic = [r for r in runs if r.kind == "off_topic"]
    return {
        "answerable": len(answerable),
        "false_refusals": _share(sum(r.refused_at(threshold) for r in answerable), answerable),
        "gold_cited": _share(sum(r.gold_cited(threshold) for r in answerable), answerable),
        # Of the answerable questions answered, those answered in the question's language, and
        # those citing a source at all (the model's markers or retrieval.attribution's).
        "in_question_language": _share(sum(in_question_language(r) for r in answered), answered),
        "citing": _share(sum(bool(r.cited) for r in answered), answered),
        "near_miss": len(near_miss),
        "near_miss_false_answers": _share(
            sum(not r.refused_at(threshold) for r in near_miss), near_miss
        ),
        "off_topic": len(off_topic),
        "off_topic_false_answers": _share(
            sum(not r.refused_at(threshold) for r in off_topic), off_topic
        ),
    }


def in_question_language(run: AnswerRun) -> bool:
    """Whether most sentences of an answer's prose are in the language its question is labelled
    with in the dev set: at least half of a Chinese or Russian sentence's letters are of its
    script (each Han character a letter), under half of an English one's are Han or Cyrillic.
    Code blocks (closed or not), code spans and code-like words are left out first, since a
    Russian answer quotes `apt-mark hold` as an English one does."""
    from kb.text.script import CYRILLIC_SCRIPT, HAN_SCRIPT, script_share
    from retrieval.attribution import code_blocks

    text = run.text
    for block in reversed(code_blocks(text)):
        text = text[: block.start] + "\n" + text[block.end :]
    prose = _CODE_WORD.sub(" ", _CODE.sub(" ", text))
    sentences = [part for part in _SENTENCE_END.split(prose) if any(map(str.isalpha, part))]
    script = {"zh": HAN_SCRIPT, "ru": CYRILLIC_SCRIPT}.get(run.lang)

    def in_language(sentence: str) -> bool:
        if script is not None:
            return script_share(sentence, script) >= 0.5
        other = script_share(sentence, HAN_SCRIPT) + script_share(sentence, CYRILLIC_SCRIPT)
        return other < 0.5

    return 2 * sum(map(in_language, sentences)) >= len(sentences) > 0


def _share(count: int, runs: Sequence[AnswerRun]) -> float | None:
    return round(count / len(runs), 3) if runs else None


def _check_cost(runs: Sequence[AnswerRun]) -> Json:
    """Milliseconds the check took, and the answer's first token and whole time (mean and
    median), and the prompt's tokens, over the questions that reached the model and that the
    evidence thresholds let through (the run asks the model for `no_evidence` ones too)."""
    checked = [r for r in runs if "answerability" in r.latencies_ms and r.refusal != "no_evidence"]
    values = {
        name: [r.latencies_ms[name] for r in checked if name in r.latencies_ms]
        for name in ("answerability", "first_token", "total")
    }
    tokens = [r.prompt_tokens for r in checked if r.prompt_tokens]
    return {
        "questions": len(checked),
        **{
            f"{name}_mean": round(statistics.fmean(v), 1) if v else None
            for name, v in values.items()
        },
        **{
            f"{name}_p50": round(statistics.median(v), 1) if v else None
            for name, v in values.items()
            if name != "answerability"
        },
        "prompt_tokens_mean": round(statistics.fmean(tokens), 1) if tokens else None,
    }


def _reasons(runs: Sequence[AnswerRun]) -> Json:
    counts: dict[str, dict[str, int]] = {}
    for run in runs:
        kind = counts.setdefault(run.kind, {})
        kind[run.refusal or "answered"] = kind.get(run.refusal or "answered", 0) + 1
    return counts


def summary(result: Json) -> str:
    lines = []
    for budget in result["per_budget"]:
        shipped, bare = budget["at_shipped"]["all"], budget["without_check"]["all"]
        lines += [
            f"prompt budget {budget['budget']}, answerability threshold "
            f"{result['shipped_threshold']}: false refusals {shipped['false_refusals']}, gold "
            f"cited {shipped['gold_cited']}, near-miss false answers "
            f"{shipped['near_miss_false_answers']}, off-topic false answers "
            f"{shipped['off_topic_false_answers']}",
            f"  without the check: false refusals {bare['false_refusals']}, near-miss false "
            f"answers {bare['near_miss_false_answers']}, off-topic false answers "
            f"{bare['off_topic_false_answers']}",
            "  answered in the question's language: "
            + ", ".join(
                f"{lang} {rates['in_question_language']}"
                for lang, rates in budget["at_shipped"]["by_lang"].items()
            ),
            "  false refusals / gold cited / answers citing a source: "
            + ", ".join(
                f"{name} {rates['false_refusals']} / {rates['gold_cited']} / {rates['citing']}"
                for name, rates in [
                    *budget["at_shipped"]["by_lang"].items(),
                    *budget["at_shipped"]["answerable_by_split"].items(),
                ]
                if rates["answerable"]
            ),
            f"  check: {budget['check_ms']}",
            f"  second attempts: {budget['second_attempts']}; without them: "
            f"{budget['without_second_attempt']}",
        ]
        for row in budget["sweep"]:
            lines.append(
                f"  t={row['threshold']:<5} false refusals {row['false_refusals']} "
                f"near-miss false answers {row['near_miss_false_answers']}"
            )
        for row in budget["evidence_sweep"]:
            lines.append(
                f"  evidence x{row['scale']:<4} false refusals {row['false_refusals']} "
                f"near-miss {row['near_miss_false_answers']} off-topic "
                f"{row['off_topic_false_answers']}"
            )
    return "\n".join(lines)
