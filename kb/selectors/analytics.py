"""Reads for the analytics page: numbers from the anonymised query log and its feedback only.

Nothing here touches users, conversations or documents: what an analyst sees is exactly what
the log holds (pseudonyms are not even shown). Percentiles are computed in Python, the same on
SQLite and PostgreSQL; a window of up to `MAX_DAYS` (the longest retention) stays small enough.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Max
from django.utils import timezone

from kb.models import FeedbackRating, QueryLog
from kb.redaction import redact
from retrieval.refusals import found_instead, not_mentioned

DAY_CHOICES = (7, 30, 90)
MAX_DAYS = max(DAY_CHOICES)
TOP_UNANSWERED = 10
# A refusal text (retrieval.refusals.refusal_text) is the stock sentence, then a lead-in such
# as "The closest sources found:" and the sources, in English, Chinese or Russian punctuation.


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), interpolated linearly between ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Tally:
    """Counts and latencies of a set of answered questions (a day, a variant, everything)."""

    queries: int = 0
    refused: int = 0
    cached: int = 0
    up: int = 0
    down: int = 0
    total_ms: list[float] = field(default_factory=list)
    first_token_ms: list[float] = field(default_factory=list)

    def add(self, row: LogRow) -> None:
        self.queries += 1
        self.refused += row.refused
        self.cached += row.cached
        self.up += row.rating == FeedbackRating.UP
        self.down += row.rating == FeedbackRating.DOWN
        if row.total_ms is not None:
            self.total_ms.append(row.total_ms)
        if row.first_token_ms is not None:
            self.first_token_ms.append(row.first_token_ms)

    @property
    def refusal_rate(self) -> float | None:
        return _share(self.refused, self.queries)

    @property
    def cache_share(self) -> float | None:
        return _share(self.cached, self.queries)

    @property
    def rated(self) -> int:
        return self.up + self.down

    @property
    def feedback_ratio(self) -> float | None:
        """Share of ratings that are thumbs up."""
        return _share(self.up, self.rated)

    @property
    def p50_ms(self) -> float | None:
        return percentile(self.total_ms, 50)

    @property
    def p95_ms(self) -> float | None:
        return percentile(self.total_ms, 95)

    @property
    def p50_first_token_ms(self) -> float | None:
        return percentile(self.first_token_ms, 50)

    @property
    def p95_first_token_ms(self) -> float | None:
        return percentile(self.first_token_ms, 95)


@dataclass(frozen=True)
class LogRow:
    created_at: datetime
    refused: bool
    cached: bool
    total_ms: float | None
    first_token_ms: float | None
    template_version: str
    model: str
    rating: str | None


@dataclass
class Day(Tally):
    day: date = date.min


@dataclass
class Variant(Tally):
    """One arm of a prompt or model experiment."""

    template_version: str = ""
    model: str = ""


@dataclass(frozen=True)
class Unanswered:
    question: str
    count: int
    last_asked: datetime
    found_instead: str  # the closest sources the latest refusal named ("" if none)
    not_mentioned: str = ""  # the question's words those sources lack: the gap to fill


@dataclass(frozen=True)
class Report:
    since: date
    until: date
    overall: Tally
    days: list[Day]
    variants: list[Variant]
    unanswered: list[Unanswered]
    refusals: list[tuple[str, int]]  # (reason, count), most frequent first; "": not recorded


def analytics_report(*, days: int, now: datetime | None = None) -> Report:
    """The last `days` calendar days (today included), every day listed even without queries."""
    days = min(max(days, 1), MAX_DAYS)
    until = timezone.localdate(now or timezone.now())
    since = until - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(since, time.min))
    logs = QueryLog.objects.filter(created_at__gte=start)
    overall = Tally()
    per_day = {since + timedelta(days=n): Day(day=since + timedelta(days=n)) for n in range(days)}
    per_variant: dict[tuple[str, str], Variant] = {}
    for row in _rows(logs.values_list(*_FIELDS).iterator(chunk_size=2000)):
        overall.add(row)
        day = per_day.get(timezone.localdate(row.created_at))
        if day is not None:
            day.add(row)
        key = (row.template_version, row.model)
        per_variant.setdefault(key, Variant(template_version=key[0], model=key[1])).add(row)
    variants = sorted(per_variant.values(), key=lambda v: (-v.queries, v.template_version, v.model))
    return Report(
        since,
        until,
        overall,
        list(per_day.values()),
        variants,
        _unanswered(logs),
        _refusal_reasons(logs),
    )


_FIELDS = (
    "created_at",
    "refused",
    "cached",
    "latencies_ms",
    "template_version",
    "model",
    "feedback__rating",
)


def _rows(values: Iterable[tuple[Any, ...]]) -> Iterable[LogRow]:
    for created_at, refused, cached, latencies, template_version, model, rating in values:
        latencies = latencies if isinstance(latencies, dict) else {}
        yield LogRow(
            created_at,
            bool(refused),
            bool(cached),
            _ms(latencies.get("total")),
            _ms(latencies.get("first_token")),
            template_version or "",
            model or "",
            rating,
        )


def _ms(value: Any) -> float | None:
    """A logged latency, or None when missing (a refusal has no first token)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _unanswered(logs: Any) -> list[Unanswered]:
    """The most frequent refused questions, grouped by their exact redacted text, with what the
    latest of them found instead. Redacted again on the way out: rows logged under older,
    weaker rules must not show what today's find."""
    refused = logs.filter(refused=True)
    grouped = (
        refused.values("question_redacted")
        .annotate(count=Count("pk"), last_asked=Max("created_at"))
        .order_by("-count", "-last_asked")[:TOP_UNANSWERED]
    )
    unanswered = []
    for g in grouped:
        latest = (
            refused.filter(question_redacted=g["question_redacted"])
            .order_by("-created_at", "-pk")
            .values_list("answer_redacted", flat=True)
            .first()
        )
        unanswered.append(
            Unanswered(
                redact(g["question_redacted"]),
                g["count"],
                g["last_asked"],
                redact(found_instead(latest or "")),
                redact(not_mentioned(latest or "")),
            )
        )
    return unanswered


def _refusal_reasons(logs: Any) -> list[tuple[str, int]]:
    counted = (
        logs.filter(refused=True)
        .values("refusal")
        .annotate(count=Count("pk"))
        .order_by("-count", "refusal")
    )
    return [(c["refusal"], c["count"]) for c in counted]
