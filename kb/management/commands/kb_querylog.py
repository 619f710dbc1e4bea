"""Print the anonymised query log exactly as an analyst sees it: what is stored, nothing more."""

from __future__ import annotations

import json
from argparse import ArgumentParser, ArgumentTypeError
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db.models import QuerySet
from django.utils import timezone

from kb.models import QueryLog
from kb.redaction import redact

QUESTION_WIDTH = 60


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ArgumentTypeError(f"must be at least 1, got {value}")
    return value


class Command(BaseCommand):
    help = (
        "Print the query log, newest first: --json gives one JSON object per line, otherwise a "
        "table. Pseudonyms and redacted text only; nothing else is stored."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="One JSON object per line")
        parser.add_argument("--days", type=_positive_int, help="Only the last N days")
        parser.add_argument("--limit", type=_positive_int, help="At most N entries")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = _rows(days=options["days"], limit=options["limit"])
        if options["json"]:
            for row in rows:
                self.stdout.write(json.dumps(_as_dict(row), ensure_ascii=False))
        else:
            self._table(rows)

    def _table(self, rows: QuerySet[QueryLog]) -> None:
        self.stdout.write(
            f"{'id':>6}  {'created (UTC)':16}  {'asker':8}  {'total ms':>8}  "
            f"{'tokens':>9}  {'refused':7}  {'rating':6}  question"
        )
        for row in rows:
            feedback = _feedback(row)
            total = row.latencies_ms.get("total")
            self.stdout.write(
                f"{row.pk:>6}  {row.created_at:%Y-%m-%d %H:%M}  {row.pseudonym[:8]:8}  "
                f"{'' if total is None else f'{total:.0f}':>8}  "
                f"{f'{row.prompt_tokens}/{row.completion_tokens}':>9}  "
                f"{'yes' if row.refused else '':7}  {feedback['rating'] if feedback else '':6}  "
                f"{_shortened(redact(row.question_redacted))}"
            )


def _rows(*, days: int | None, limit: int | None) -> QuerySet[QueryLog]:
    rows = QueryLog.objects.select_related("feedback").order_by("-created_at", "-pk")
    if days is not None:
        rows = rows.filter(created_at__gte=timezone.now() - timedelta(days=days))
    return rows[:limit] if limit is not None else rows


def _as_dict(row: QueryLog) -> dict[str, Any]:
    return {
        "id": row.pk,
        "created_at": row.created_at.isoformat(),
        "pseudonym": row.pseudonym,
        "question": redact(row.question_redacted),
        "answer": redact(row.answer_redacted),
        "collection_ids": row.collection_ids,
        "retrieved": row.retrieved,
        "latencies_ms": row.latencies_ms,
        "tokens": {"prompt": row.prompt_tokens, "completion": row.completion_tokens},
        "model": row.model,
        "template_version": row.template_version,
        "refused": row.refused,
        "refusal": row.refusal,
        "cached": row.cached,
        "feedback": _feedback(row),
    }


def _feedback(row: QueryLog) -> dict[str, str] | None:
    feedback = getattr(row, "feedback", None)  # the reverse one-to-one raises when absent
    if feedback is None:
        return None
    return {"rating": feedback.rating, "comment": redact(feedback.comment_redacted)}


def _shortened(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= QUESTION_WIDTH else flat[: QUESTION_WIDTH - 1] + "…"
