"""The analytics page (staff only; everyone else gets 404): kb.selectors.analytics' numbers as
summary figures, inline SVG charts (kb.web.charts) and tables, formatted here for the template.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kb.selectors.analytics import DAY_CHOICES, Day, Report, Tally, Variant, analytics_report
from kb.web import charts
from kb.web.http import HtmxHttpRequest, staff_required

DEFAULT_DAYS = 30
EMPTY = "—"
# The log names no model for a refusal made before the answer step (too little evidence).
NO_MODEL = "none (refused before answering)"
# Why questions were refused (retrieval.refusals.RefusalReason), in the page's words.
REFUSAL_LABELS = {
    "no_evidence": "nothing close enough",
    "not_answerable": "passages do not hold it",
    "not_covered": "names what passages lack",
    "declined": "the model declined",
    "unsupported": "answer unsupported",
    "": "reason not logged",
}


def percent(value: float | None) -> str:
    return EMPTY if value is None else f"{value * 100:.0f}%"


def duration(ms: float | None) -> str:
    if ms is None:
        return EMPTY
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    detail: str


@staff_required
@require_GET
def analytics(request: HtmxHttpRequest) -> HttpResponse:
    days = request.GET.get("days", "")
    chosen = int(days) if days.isdigit() and int(days) in DAY_CHOICES else DEFAULT_DAYS
    report = analytics_report(days=chosen)
    context = {
        "report": report,
        "days": chosen,
        "day_choices": DAY_CHOICES,
        "figures": figures(report.overall),
        "queries_chart": _queries_chart(report),
        "latency_chart": _latency_chart(report),
        "fmt_days": [_day_row(d) for d in reversed(report.days)],
        "fmt_variants": [_variant_row(v) for v in report.variants],
        "fmt_refusals": [(REFUSAL_LABELS.get(r, r), f"{n:,}") for r, n in report.refusals],
    }
    return render(request, "analytics/page.html", context)


def figures(overall: Tally) -> list[Figure]:
    return [
        Figure("Questions", f"{overall.queries:,}", "answered or not"),
        Figure(
            "Not found",
            percent(overall.refusal_rate),
            f"{overall.refused:,} of {overall.queries:,} found no answer in the documents",
        ),
        Figure(
            "Helpful",
            percent(overall.feedback_ratio),
            f"{overall.up:,} up, {overall.down:,} down of {overall.rated:,} ratings",
        ),
        Figure("Cache hits", percent(overall.cache_share), f"{overall.cached:,} from the cache"),
        Figure(
            "Answer time p50 / p95",
            f"{duration(overall.p50_ms)} / {duration(overall.p95_ms)}",
            "whole answer",
        ),
        Figure(
            "First token p50 / p95",
            f"{duration(overall.p50_first_token_ms)} / {duration(overall.p95_first_token_ms)}",
            "answers the model wrote",
        ),
    ]


def _day_row(day: Day) -> list[str]:
    return [
        f"{day.day:%Y-%m-%d}",
        f"{day.queries:,}",
        f"{day.refused:,}",
        percent(day.refusal_rate),
        f"{day.up:,} / {day.down:,}",
        percent(day.cache_share),
        duration(day.p50_ms),
        duration(day.p95_ms),
        duration(day.p50_first_token_ms),
        duration(day.p95_first_token_ms),
    ]


def _variant_row(variant: Variant) -> list[str]:
    return [
        variant.template_version or EMPTY,
        variant.model or NO_MODEL,
        f"{variant.queries:,}",
        percent(variant.refusal_rate),
        percent(variant.feedback_ratio),
        f"{variant.up:,} / {variant.down:,}",
        percent(variant.cache_share),
        duration(variant.p50_ms),
        duration(variant.p95_ms),
    ]


def _queries_chart(report: Report) -> charts.Chart:
    days = [d.day for d in report.days]
    answered = [d.queries - d.refused for d in report.days]
    refused = [d.refused for d in report.days]
    return charts.stacked_bars(
        days, [("answered", "answered", answered), ("not found", "refused", refused)]
    )


def _latency_chart(report: Report) -> charts.Chart:
    def seconds(values: list[float | None]) -> list[float | None]:
        return [None if v is None else v / 1000 for v in values]

    return charts.lines(
        [d.day for d in report.days],
        [
            ("p50", "p50", seconds([d.p50_ms for d in report.days])),
            ("p95", "p95", seconds([d.p95_ms for d in report.days])),
            ("first token p50", "first", seconds([d.p50_first_token_ms for d in report.days])),
        ],
        " s",
    )
