"""`python -m bench quality --answers`: rates at any answerability threshold from one run, the
interleaved order that keeps an interrupted run balanced, and rescoring from its rows."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench.common.devset import Gold, Question
from bench.quality.answers import (
    AnswerRun,
    _interleaved,
    by_budget,
    cited_name,
    cites_gold,
    gold_names,
    in_question_language,
    load_rows,
    rates,
    report,
    with_claims_rechecked,
    with_evidence_policy,
    with_uncached_translations,
    with_uncovered_names,
    without_second_attempt,
)
from retrieval.claim_support import DEFAULT_RULES
from retrieval.evidence import RefusalPolicy

pytestmark = pytest.mark.unit


def _run(kind: str, refusal: str = "", p: float | None = 0.5, gold: bool = True) -> AnswerRun:
    return AnswerRun(
        id=f"{kind}-{refusal}-{p}",
        kind=kind,
        lang="en",
        split="dev",
        refusal=refusal,
        probability=p,
        gold_hit=gold,
        cited=("doc",),
        text="answer",
        latencies_ms={"answerability": 100.0, "total": 900.0},
    )


RUNS = [
    _run("answerable", p=0.9),
    _run("answerable", p=0.45),
    _run("answerable", refusal="declined", p=0.8),
    _run("answerable", refusal="no_evidence", p=None),
    _run("near_miss", p=0.3),
    _run("near_miss", p=0.55),
    _run("near_miss", refusal="declined", p=0.6),
    _run("off_topic", refusal="no_evidence", p=None),
]


def test_a_question_counts_as_refused_below_the_threshold_or_for_another_reason() -> None:
    at_zero = rates(RUNS, 0.0)["all"]
    at_half = rates(RUNS, 0.5)["all"]

    assert (at_zero["false_refusals"], at_zero["near_miss_false_answers"]) == (0.5, 0.667)
    assert (at_half["false_refusals"], at_half["near_miss_false_answers"]) == (0.75, 0.333)
    assert at_half["gold_cited"] == 0.25  # only the answer above the threshold still counts
    assert at_half["off_topic_false_answers"] == 0.0


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("ru", "Используйте `apt-mark hold` для пакета [1].", True),
        ("ru", "В /var/log/dpkg.log.", True),  # the path is code, the rest Russian
        ("ru", "You can use the at command [5]. Run `at now + 3 hours`.", False),
        ("zh", "使用 sudo 程序，允许用户对特定命令拥有专门的权力[1]。", True),
        ("zh", "The /etc/fstab file gives a list of all possible mounts [2].", False),
        ("en", "Backups are kept for 35 days [1].", True),
        ("en", "```\nsudo apt-mark hold nginx\n```\nЗапрещает обновление пакета.", False),
        # cut off inside its code block: the code is not prose
        ("ru", "Выполните:\n```\nHold the package. Then upgrade the rest. Done.", True),
        ("ru", "Use apt-mark hold to keep the package where it is: пакет.", False),
    ],
)
def test_an_answer_is_in_its_questions_language_whatever_code_it_quotes(
    lang: str, text: str, expected: bool
) -> None:
    run = replace(_run("answerable"), lang=lang, text=text)

    assert in_question_language(run) is expected


def test_the_language_share_counts_answered_questions_only() -> None:
    russian = [
        replace(_run("answerable", p=0.9), lang="ru", text="Используйте apt-mark hold [1]."),
        replace(_run("answerable", p=0.9), lang="ru", text="Use apt-mark hold [1]."),
        replace(_run("answerable", refusal="declined"), lang="ru", text="I don't know."),
    ]

    assert rates(russian, 0.5)["all"]["in_question_language"] == 0.5


def test_rows_written_by_a_run_rescore_to_the_same_report(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    lines = [json.dumps({"n": n, **run.row()}) for n, run in enumerate(RUNS, 1)]
    log.write_text("indexing…\n" + "\n".join(lines) + "\n")

    rescored = load_rows(log)

    assert report(rescored, shipped_threshold=0.5, policy=POLICY) == report(
        RUNS, shipped_threshold=0.5, policy=POLICY
    )


POLICY = RefusalPolicy(
    min_dense=0.4, min_coverage=0.6, other_min_dense=0.55, other_min_coverage=0.4
)


def test_answers_written_again_count_as_refused_without_the_second_attempt() -> None:
    def asked_again(run: AnswerRun, first: str) -> AnswerRun:
        return replace(
            run, latencies_ms={**run.latencies_ms, "second_attempt": 900.0}, first_attempt=first
        )

    served = asked_again(_run("answerable", p=0.9), "Reception does it [1].")
    refused = asked_again(_run("near_miss", "unsupported", p=0.9), "It is blue [1].")
    # The second was a non-answer: the row holds the first's sentences and their verdict.
    declined = asked_again(_run("answerable", "unsupported", p=0.9), "")
    runs = [served, refused, declined, _run("answerable", p=0.9)]

    before = without_second_attempt(runs)

    assert [r.refusal for r in before] == ["unsupported", "unsupported", "unsupported", ""]
    assert (before[0].gold_hit, before[0].cited) == (False, ())
    assert rates(runs, 0.5)["all"]["false_refusals"] == 0.333
    assert rates(before, 0.5)["all"]["false_refusals"] == 0.667
    (budget,) = report(runs, shipped_threshold=0.5, policy=POLICY)["per_budget"]
    assert budget["second_attempts"]["asked"] == 3
    assert budget["second_attempts"]["replaced"] == 2
    assert budget["second_attempts"]["ended"] == {
        "answerable": {"answered": 1, "unsupported": 1},
        "near_miss": {"unsupported": 1},
    }
    assert budget["without_second_attempt"]["false_refusals"] == 0.667


def test_evidence_recorded_with_the_thresholds_at_zero_is_judged_at_the_thresholds_given() -> None:
    weak = replace(_run("answerable", p=0.9), evidence=((0.3, 0.5, True),))
    strong = replace(_run("answerable", p=0.9), evidence=((0.45, 0.2, True),))
    # Chinese, weak as asked, its English translation strong: not refused (refuses_all).
    translated = replace(_run("answerable", p=0.9), evidence=((0.5, 0.3, False), (0.2, 0.7, True)))
    other_script = replace(_run("near_miss", p=0.9), evidence=((0.5, 0.3, False),))
    unrecorded = _run("near_miss", p=0.9)  # a row from before evidence was recorded

    judged = with_evidence_policy([weak, strong, translated, other_script, unrecorded], POLICY)

    assert [r.refusal for r in judged] == ["no_evidence", "", "", "no_evidence", ""]
    assert (judged[0].probability, judged[0].gold_hit, judged[0].cited) == (None, False, ())
    lower = RefusalPolicy(min_dense=0.3, min_coverage=0.5)
    assert with_evidence_policy([weak], lower)[0].refusal == ""  # thresholds are strict


def test_each_prompt_budget_is_reported_on_its_own(tmp_path: Path) -> None:
    whole = [replace(r, budget=0, prompt_tokens=1500) for r in RUNS]
    short = [replace(r, budget=600, prompt_tokens=700, refusal="declined") for r in RUNS]
    runs = [run for pair in zip(whole, short, strict=True) for run in pair]
    log = tmp_path / "run.log"
    log.write_text("\n".join(json.dumps({"n": 1, **r.row()}) for r in runs) + "\n")

    result = report(load_rows(log), shipped_threshold=0.5, policy=POLICY)

    assert list(by_budget(runs)) == [0, 600]
    assert [b["budget"] for b in result["per_budget"]] == [0, 600]
    first, second = result["per_budget"]
    assert first["at_shipped"] == rates(RUNS, 0.5)
    assert second["at_shipped"]["all"]["false_refusals"] == 1.0
    assert (first["check_ms"]["prompt_tokens_mean"], second["check_ms"]["prompt_tokens_mean"]) == (
        1500,
        700,
    )
    assert len(result["per_question"]) == 2 * len(RUNS)


def test_kinds_are_interleaved_so_any_prefix_is_balanced() -> None:
    questions = {
        "answerable": [Question(f"a{i}", "en", "q") for i in range(4)],
        "near_miss": [Question(f"n{i}", "en", "q") for i in range(4)],
        "off_topic": [Question(f"o{i}", "en", "q") for i in range(2)],
    }

    order = [kind for kind, _ in _interleaved(questions)]

    assert len(order) == 10
    assert set(order[:5]) == {"answerable", "near_miss", "off_topic"}
    assert order[:5].count("answerable") == order[:5].count("near_miss") == 2


def test_rows_recorded_before_the_uncovered_names_refusal_are_scored_as_if_it_ran() -> None:
    page = "Cron runs the jobs in /etc/crontab at the minute given, and mails their output."
    recorded = [
        replace(_run("near_miss", p=0.8), id="nm", passages=(("cron", page),)),
        replace(_run("answerable", p=0.8), id="ok", passages=(("cron", page),)),
        replace(_run("near_miss", refusal="no_evidence", p=None), id="weak"),
    ]
    texts = {
        "nm": "Can cron post the output of its jobs to Slack?",
        "ok": "Does cron mail the output of the jobs in /etc/crontab?",
        "weak": "Can cron post to Slack?",
    }

    scored = with_uncovered_names(recorded, texts)

    assert [(r.refusal, r.probability) for r in scored] == [
        ("not_covered", None),
        ("", 0.8),
        ("no_evidence", None),  # refused before: its reason stays
    ]


def test_recorded_sentences_are_checked_again_with_the_rules_given() -> None:
    page = "Cron runs the jobs in /etc/crontab every minute and mails their output to the owner."
    claim = "Cron promptly mails the output of the jobs in /etc/crontab to their owner [2]."
    passages = (("other", "Backups are written to tape on Sundays."), ("cron", page))
    recorded = [
        # Refused when recorded, supported by its cited passage now.
        replace(
            _run("answerable", refusal="unsupported"),
            passages=passages,
            claims=((claim, False),),
        ),
        # Its number is in no passage: unsupported whatever the share of terms.
        replace(
            _run("near_miss"),
            passages=passages,
            claims=(("Cron mails the output of the jobs every 5 minutes [2].", True),),
        ),
        replace(_run("near_miss", refusal="no_evidence", p=None), claims=(("x", False),)),
    ]

    gold = {recorded[0].id: {"cron"}}
    checked = with_claims_rechecked(recorded, gold=gold, rules=DEFAULT_RULES)
    strict = with_claims_rechecked(
        recorded[:1], gold=gold, rules=replace(DEFAULT_RULES, min_terms=1.0)
    )

    assert [r.refusal for r in checked] == ["", "unsupported", "no_evidence"]
    assert checked[0].claims == ((claim, True),)
    assert (checked[0].cited, checked[0].gold_hit) == (("cron",), True)  # [2] is the cron page
    assert checked[0].attributed is False  # the sentence cites [2] itself
    bare = claim.replace(" [2]", "")  # as written by a model that cites nothing
    unmarked = replace(recorded[0], claims=((bare, False),))
    (given,) = with_claims_rechecked([unmarked], gold=gold, rules=DEFAULT_RULES)
    assert (given.attributed, given.cited, given.claims) == (True, ("cron",), ((bare, True),))
    assert strict[0].refusal == "unsupported"  # "promptly" is not in its page


def test_a_translation_is_read_from_rows_written_before_translations_were_recorded() -> None:
    """Such rows hold the English translation of every Chinese or Russian question; it was
    searched only when the row's times include one."""
    row = replace(_run("near_miss"), id="nm").row()
    row.pop("translations")
    searched = {**row, "translation": "Can cron post to Slack?", "ms": {"translate": 900}}
    skipped = {**row, "translation": "Can cron post to Slack?", "ms": {"total": 30}}

    assert AnswerRun.from_row(searched).translations == ("Can cron post to Slack?",)
    assert AnswerRun.from_row(skipped).translations == ()
    assert AnswerRun.from_row(
        replace(_run("near_miss"), translations=("x",)).row()
    ).translations == ("x",)


def test_a_budget_answered_after_the_translation_was_cached_is_timed_as_if_it_was_not() -> None:
    first = replace(
        _run("answerable"),
        latencies_ms={"translate": 3000.0, "sources": 3100.0, "first_token": 9000.0},
    )
    cached = replace(
        first,
        budget=500,
        latencies_ms={"translate": 0.0, "sources": 100.0, "first_token": 4000.0},
    )
    english = replace(_run("near_miss"), latencies_ms={"first_token": 2000.0})

    timed = with_uncached_translations([first, cached, english])

    assert [r.latencies_ms for r in timed] == [
        first.latencies_ms,
        {"translate": 3000.0, "sources": 3100.0, "first_token": 7000.0},
        english.latencies_ms,
    ]


def test_a_claim_whose_markers_open_the_next_sentence_is_recorded_with_them() -> None:
    """ "… 35 days. [2] Old logs …": the Answerer checks the first sentence against passage 2
    (the splitter gives [2] to the next one); its row must let a rescore do the same."""
    from types import SimpleNamespace

    from bench.quality.answers import _as_written
    from retrieval.answer_checks import check_answer
    from retrieval.types import Passage

    texts = ["Nightly backups are kept for 35 days.", "Old logs are archived by logrotate."]
    passages = [Passage(n, f"c{n}", n, "", None, "", t, 1.0, ()) for n, t in enumerate(texts, 1)]
    text = "Backups are kept for 35 days. [2] Old logs are archived by logrotate [2]."
    check = check_answer(text, cited=[passages[1]], passages=passages)
    answer: Any = SimpleNamespace(attributed=False, passages=passages, check=check)

    written = tuple((_as_written(c, answer), c.supported) for c in check.claims)
    row = replace(
        RUNS[0], id="a", claims=written, passages=(("backups", texts[0]), ("logs", texts[1]))
    )
    (rechecked,) = with_claims_rechecked([row], gold={}, rules=DEFAULT_RULES, recitation=False)

    assert [c.supported for c in check.claims] == [False, True]
    assert written[0][0] == "Backups are kept for 35 days [2]."
    assert [supported for _, supported in rechecked.claims] == [False, True]


@pytest.mark.parametrize(
    "text",
    [
        "Backups are kept for 35 days. [1, 2] Old logs are archived by logrotate [1].",
        "Backups are kept for 35 days [1]. [2] Old logs are archived by logrotate [1].",
        "Backups are kept for 35 days. Old logs are archived by logrotate.",
    ],
)
def test_a_recorded_claim_is_checked_again_against_the_passages_it_was(text: str) -> None:
    from types import SimpleNamespace

    from bench.quality.answers import _as_written
    from retrieval.answer_checks import check_answer
    from retrieval.citations import CitationFilter
    from retrieval.types import Passage

    texts = ["Old logs are archived by logrotate.", "Nightly backups are kept for 35 days."]
    passages = [Passage(n, f"c{n}", n, "", None, "", t, 1.0, ()) for n, t in enumerate(texts, 1)]
    citations = CitationFilter({1, 2})
    citations.feed(text)
    cited = [passages[n - 1] for n in citations.cited]
    check = check_answer(text, cited=cited, passages=passages)
    answer: Any = SimpleNamespace(attributed=False, passages=passages, check=check)

    written = tuple((_as_written(c, answer), c.supported) for c in check.claims)
    row = replace(RUNS[0], id="a", claims=written, passages=(("l", texts[0]), ("b", texts[1])))
    (again,) = with_claims_rechecked([row], gold={}, rules=DEFAULT_RULES, recitation=False)

    assert [s for _, s in again.claims] == [c.supported for c in check.claims]


def test_a_pdf_answer_cites_its_gold_only_by_citing_a_gold_page() -> None:
    manual = Gold("gnuplot-doc", "gnuplot.pdf", page=167)
    pdf = Question("gp-90", "zh", "纵轴按数量级显示？", gold=(manual,))
    html = Question("hb-90", "en", "cron?", gold=(Gold("debian-handbook/en-US", "cron.html"),))
    on_page = cited_name("gnuplot-doc/gnuplot.pdf", 167)
    elsewhere = cited_name("gnuplot-doc/gnuplot.pdf", 12)

    assert on_page == "gnuplot-doc/gnuplot.pdf#p167"
    assert cites_gold(gold_names(pdf), [elsewhere, on_page])
    assert not cites_gold(gold_names(pdf), [elsewhere])  # the right manual, the wrong page
    # A page-less gold is cited by any page of its document, and by the page-less name.
    assert cites_gold(gold_names(html), [cited_name("debian-handbook/en-US/cron.html", None)])
    assert cites_gold({"a.pdf"}, [cited_name("a.pdf", 3)])


def test_answerable_questions_are_rated_per_split_too() -> None:
    held_out = replace(_run("answerable", refusal="declined"), id="h", split="held-out")
    split = rates([_run("answerable", p=0.9), held_out], 0.5)["answerable_by_split"]

    assert {name: r["false_refusals"] for name, r in split.items()} == {
        "dev": 0.0,
        "held-out": 1.0,
    }
