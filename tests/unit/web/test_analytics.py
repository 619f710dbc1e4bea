"""Analytics from the anonymised log only, checked on a hand-built log: per-day counts and
percentiles, refusal, feedback and cache shares, the unanswered questions and the comparison of
template/model variants. Staff only; everyone else gets 404."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from kb.models import Feedback, QueryLog
from kb.selectors.analytics import analytics_report, percentile
from kb.web import charts
from kb.web.analytics_page import duration, percent
from retrieval.refusals import (
    NOT_FOUND,
    found_instead,
    is_stock_refusal,
    not_mentioned,
    refusal_text,
)
from retrieval.types import Passage
from tests.support.clients import signed_in
from tests.support.personas import World

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def log(
    *,
    days_ago: int,
    total: float | None = None,
    first: float | None = None,
    refused: bool = False,
    cached: bool = False,
    rating: str | None = None,
    template: str = "answer-v1",
    model: str = "qwen-0.5b",
    question: str = "q",
    refusal: str = "",
    answer: str = "",
    now: datetime = NOW,
) -> QueryLog:
    latencies: dict[str, Any] = {}
    if total is not None:
        latencies["total"] = total
    if first is not None:
        latencies["first_token"] = first
    row = QueryLog.objects.create(
        pseudonym="p",
        question_redacted=question,
        answer_redacted=answer,
        refused=refused,
        refusal=refusal,
        cached=cached,
        latencies_ms=latencies,
        model=model,
        template_version=template,
    )
    QueryLog.objects.filter(pk=row.pk).update(created_at=now - timedelta(days=days_ago, minutes=1))
    if rating:
        Feedback.objects.create(query_log=row, rating=rating)
    return row


@pytest.fixture
def hand_built_log(db: None) -> None:
    # Today: four answers (one cached, one refused by the model) and two ratings
    log(days_ago=0, total=1000, first=200, rating="up")
    log(days_ago=0, total=2000, first=400, rating="down")
    log(days_ago=0, total=3000, first=600)
    log(days_ago=0, total=10, cached=True, rating="up")
    # Two days ago: refusals before the model (no first token), one question asked twice
    log(days_ago=2, total=50, refused=True, question="Where is the [email] policy?")
    log(days_ago=2, total=70, refused=True, question="Where is the [email] policy?")
    log(days_ago=2, total=60, refused=True, question="Who won in 1998?", template="answer-v2")
    log(days_ago=2, total=4000, first=800, template="answer-v2", rating="down")
    # Outside a 7-day window
    log(days_ago=8, total=99999, refused=True, question="Too old")


def test_the_report_counts_per_day_with_every_day_listed(hand_built_log: None) -> None:
    report = analytics_report(days=7, now=NOW)

    assert [d.day.isoformat() for d in report.days][:1] == ["2026-03-04"]
    assert len(report.days) == 7 and report.days[-1].day.isoformat() == "2026-03-10"
    per_day = {
        d.day.isoformat(): (d.queries, d.refused, d.cached) for d in report.days if d.queries
    }
    assert per_day == {"2026-03-10": (4, 0, 1), "2026-03-08": (4, 3, 0)}


def test_percentiles_of_total_and_first_token_latency(hand_built_log: None) -> None:
    report = analytics_report(days=7, now=NOW)
    today = report.days[-1]

    assert today.p50_ms == 1500  # 10, 1000, 2000, 3000
    assert today.p95_ms == pytest.approx(2850)
    assert today.p50_first_token_ms == 400  # the cached answer has no first token
    assert today.p95_first_token_ms == pytest.approx(580)
    assert report.overall.p50_ms == 535  # 10, 50, 60, 70 | 1000, 2000, 3000, 4000
    assert report.overall.p50_first_token_ms == 500


def test_refusal_feedback_and_cache_shares(hand_built_log: None) -> None:
    overall = analytics_report(days=7, now=NOW).overall

    assert (overall.queries, overall.refused, overall.cached) == (8, 3, 1)
    assert overall.refusal_rate == 3 / 8
    assert (overall.up, overall.down, overall.rated) == (2, 2, 4)
    assert overall.feedback_ratio == 0.5
    assert overall.cache_share == 1 / 8


def test_the_most_frequent_unanswered_questions_are_grouped_by_redacted_text(
    hand_built_log: None,
) -> None:
    unanswered = analytics_report(days=7, now=NOW).unanswered

    assert [(u.question, u.count) for u in unanswered] == [
        ("Where is the [email] policy?", 2),
        ("Who won in 1998?", 1),
    ]


def scheduling(n: int = 1) -> Passage:
    """A lower-case "handbook": two capitalised words may be redacted as a person's name."""
    return Passage(n, f"c{n}", 3, "Debian handbook", 12, "9.7 Scheduling", "cron…", 0.5, ())


@pytest.mark.parametrize(
    "question",
    ["How do I schedule a job?", "如何安排定时任务？", "Как запланировать задачу?"],
    ids=["en", "zh", "ru"],
)
def test_found_instead_is_the_refusal_text_without_its_stock_sentence(question: str) -> None:
    named = refusal_text(question, [scheduling(1), Passage(2, "c2", 4, "FAQ", None, "", "", 0, ())])

    found = found_instead(named)

    assert "9.7 Scheduling" in found and "Debian handbook" in found and "FAQ" in found
    assert not is_stock_refusal(found) and not found.endswith((".", "。"))
    assert found == named[named.index(found[0]) :].rstrip(".。")  # all the sources, nothing else
    assert found_instead(refusal_text(question, [])) == ""


def test_found_instead_of_other_text_is_empty() -> None:
    assert found_instead("Use systemctl [1].") == "" and found_instead("") == ""


@pytest.mark.parametrize(
    "question",
    ["Can cron send a Slack message?", "cron 能发 Slack 消息吗？", "Может ли cron писать в Slack?"],
    ids=["en", "zh", "ru"],
)
def test_a_refusal_naming_missing_words_still_reads_back_its_sources(question: str) -> None:
    named = refusal_text(question, [scheduling()], ["Slack"])

    assert found_instead(named) == found_instead(refusal_text(question, [scheduling()]))
    assert "Slack" in not_mentioned(named) and "Scheduling" not in not_mentioned(named)
    assert not_mentioned(refusal_text(question, [scheduling()])) == ""
    assert not_mentioned("Use systemctl [1].") == ""


def test_unanswered_questions_show_what_their_latest_refusal_found_instead(db: None) -> None:
    older = refusal_text("Who schedules jobs?", [])
    newer = refusal_text("Who schedules jobs?", [scheduling()])
    log(days_ago=2, refused=True, refusal="no_evidence", question="Jobs?", answer=older)
    log(days_ago=1, refused=True, refusal="declined", question="Jobs?", answer=newer)
    log(days_ago=1, refused=True, refusal="declined", question="Other?", answer=older)
    log(days_ago=2, refused=True, question="Logged before reasons?", answer=NOT_FOUND)
    log(days_ago=1, refusal="", question="Answered", answer="Cron does [1].")

    report = analytics_report(days=7, now=NOW)

    assert [(u.question, u.count, u.found_instead) for u in report.unanswered] == [
        ("Jobs?", 2, "“9.7 Scheduling” in Debian handbook"),
        ("Other?", 1, ""),
        ("Logged before reasons?", 1, ""),
    ]
    assert [u.not_mentioned for u in report.unanswered] == ["", "", ""]
    assert report.refusals == [("declined", 2), ("", 1), ("no_evidence", 1)]


def test_unanswered_questions_show_the_words_their_sources_lack(db: None) -> None:
    """The gap an admin can fill: the documents are about cron, but say nothing of Slack."""
    answer = refusal_text("Can cron post to Slack?", [scheduling()], ["Slack"])
    log(
        days_ago=1, refused=True, refusal="not_answerable", question="Cron to Slack?", answer=answer
    )

    (unanswered,) = analytics_report(days=7, now=NOW).unanswered

    assert unanswered.not_mentioned == "“Slack”"
    assert unanswered.found_instead == "“9.7 Scheduling” in Debian handbook"


def test_variants_compare_feedback_and_refusals_per_template_and_model(
    hand_built_log: None,
) -> None:
    variants = analytics_report(days=7, now=NOW).variants

    rows = {
        (v.template_version, v.model): (v.queries, v.refusal_rate, v.feedback_ratio, v.p50_ms)
        for v in variants
    }
    assert rows == {
        ("answer-v1", "qwen-0.5b"): (6, 2 / 6, 2 / 3, 535),  # 10, 50, 70, 1000, 2000, 3000
        ("answer-v2", "qwen-0.5b"): (2, 1 / 2, 0.0, 2030),  # 60, 4000
    }


def test_an_empty_log_gives_empty_figures_not_errors(db: None) -> None:
    report = analytics_report(days=30, now=NOW)

    assert len(report.days) == 30 and report.overall.queries == 0
    assert report.overall.refusal_rate is None and report.overall.p95_ms is None
    assert report.variants == [] and report.unanswered == [] and report.refusals == []


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, None),
        ([7.0], 95, 7.0),
        ([1.0, 2.0], 50, 1.5),
        ([1.0, 2.0, 3.0, 4.0], 95, 3.85),
        ([5.0, 1.0, 3.0], 50, 3.0),
    ],
    ids=["empty", "one", "two", "interpolated", "unsorted"],
)
def test_percentile_interpolates_between_ranks(
    values: list[float], q: float, expected: float | None
) -> None:
    assert percentile(values, q) == (None if expected is None else pytest.approx(expected))


def test_charts_scale_to_a_round_maximum_and_leave_gaps_for_missing_days() -> None:
    days = [NOW.date() - timedelta(days=n) for n in (2, 1, 0)]

    bars = charts.stacked_bars(
        days, [("answered", "answered", [3, 0, 1]), ("not found", "refused", [1, 0, 0])]
    )
    lines = charts.lines(days, [("p50", "p50", [1.0, None, 2.0])], " s")

    assert [t.label for t in bars.ticks] == ["0", "1", "2", "3", "4"]
    assert [(b.kind, b.title) for b in bars.bars] == [
        ("answered", "Mar 8: 3 answered"),
        ("refused", "Mar 8: 1 not found"),
        ("answered", "Mar 10: 1 answered"),
    ]
    assert bars.bars[0].y + bars.bars[0].height == pytest.approx(charts.HEIGHT - charts.BOTTOM)
    assert len(lines.series[0].paths) == 2 and len(lines.series[0].points) == 2
    assert [t.label for t in lines.ticks] == ["0 s", "0.5 s", "1 s", "1.5 s", "2 s"]
    assert [charts.nice_ceiling(v) for v in (0, 3, 7, 12, 2400)] == [1, 5, 10, 20, 2500]


def test_figures_are_formatted_plainly() -> None:
    assert [percent(None), percent(0.375), duration(None), duration(850), duration(2850)] == [
        "—",
        "38%",
        "—",
        "850 ms",
        "2.9 s",
    ]


# --- the page ----------------------------------------------------------------------------------


def test_staff_see_the_numbers_charts_and_tables(world: World) -> None:
    now = timezone.now()
    log(days_ago=0, total=1500, first=300, rating="down", template="answer-v2", now=now)
    log(
        days_ago=40,
        total=60,
        refused=True,
        refusal="not_answerable",
        question="Where is the [email] policy?",
        answer=refusal_text("Where is the policy?", [scheduling()], ["policy"]),
        now=now,
    )
    client = signed_in(world, "staff")

    response = client.get("/analytics/?days=90")

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<svg class="chart"') == 2 and '<rect class="bar bar-answered"' in html
    assert "Where is the [email] policy?" in html
    assert "answer-v2" in html and "Most frequent unanswered questions" in html
    assert 'aria-current="page">90 days' in html
    assert "Found instead" in html and "“9.7 Scheduling” in Debian handbook" in html
    assert "Not in the sources" in html and "“policy”" in html
    assert "passages do not hold it 1" in html


@pytest.mark.parametrize("persona", ["engineer", "eng_editor", "hr_lead", "no_groups"])
def test_everyone_else_gets_404(world: World, persona: str) -> None:
    client = signed_in(world, persona)

    assert client.get("/analytics/").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in() -> None:
    response = Client().get("/analytics/")

    assert (
        response.status_code == 302 and response["Location"] == "/accounts/login/?next=/analytics/"
    )
