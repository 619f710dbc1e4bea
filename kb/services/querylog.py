"""The anonymised query log (DESIGN.md, Data model: QueryLog): writes and pseudonyms.

A row must be useful to an analyst and useless for finding out who asked: the asker appears only
as a keyed pseudonym (the key lives in the environment or the data directory, never in the
database), and free text (questions, answers, feedback comments) passes through kb.redaction
before it is stored. An API token found in that text is revoked (kb.services.api_tokens).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from kb.install_keys import install_key
from kb.models import Feedback, FeedbackRating, QueryLog
from kb.observability import metrics
from kb.redaction import redact
from kb.services.api_tokens import api_tokens_revoke_leaked

MAX_COUNT = 2**31 - 1
PSEUDONYM_KEY_FILE = "pseudonym.key"  # in KB_DATA_DIR, when KB_LOG_PSEUDONYM_KEY is not set
SCORE_DIGITS = 4  # significant digits: tells ranks apart for cosine (0.8123) and RRF (0.01639)


def pseudonym(user_id: int) -> str:
    """Stable per user, so an analyst can follow one asker's session, yet not reversible
    without the key; the key is read here, at call time, so tests and rotations take effect."""
    return hmac.new(pseudonym_key(), str(user_id).encode(), hashlib.sha256).hexdigest()


def pseudonym_key() -> bytes:
    """KB_LOG_PSEUDONYM_KEY, or else this install's own random key in KB_DATA_DIR: a key
    published in the code would let anyone recompute a user's pseudonym from their id."""
    configured = settings.KB_LOG_PSEUDONYM_KEY
    if configured:
        return configured.encode()
    return install_key(Path(settings.KB_DATA_DIR) / PSEUDONYM_KEY_FILE)


@dataclass(frozen=True)
class QueryRecord:
    """What the answering pipeline measured for one question; the user and question go to
    `querylog_write` separately so they pass through pseudonymisation and redaction."""

    collection_ids: list[int]
    retrieved: dict[str, list[tuple[str, float]]]
    latencies_ms: dict[str, float]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    template_version: str = ""
    refused: bool = False
    refusal: str = ""  # why: "" or a retrieval.refusals.RefusalReason
    answer: str = ""  # the model's answer, redacted like the question (feedback export)
    cached: bool = False
    answer_check: str = ""  # retrieval.answer_checks.Verdict: "", "blocked" or "ungrounded"


def querylog_write(*, user: AbstractBaseUser, question: str, record: QueryRecord) -> QueryLog:
    """One row per question. Odd values in the record are cleaned, not rejected: logging must
    never break answering (a database error still propagates)."""
    api_tokens_revoke_leaked(texts=[question, record.answer])
    return QueryLog.objects.create(
        pseudonym=pseudonym(user.pk),
        question_redacted=redact(question, user=user),
        answer_redacted=redact(record.answer, user=user),
        collection_ids=[n for n in map(_int_or_none, record.collection_ids or ()) if n is not None],
        retrieved=_retrieved_json(record.retrieved),
        latencies_ms=_latencies_json(record.latencies_ms),
        prompt_tokens=_count(record.prompt_tokens),
        completion_tokens=_count(record.completion_tokens),
        model=_fitted(record.model, "model"),
        template_version=_fitted(record.template_version, "template_version"),
        refused=bool(record.refused),
        refusal=_fitted(record.refusal, "refusal"),
        cached=bool(record.cached),
        answer_check=_fitted(record.answer_check, "answer_check"),
    )


@transaction.atomic
def feedback_record(
    *, user: AbstractBaseUser, query_id: int, rating: str, comment: str = ""
) -> Feedback:
    """Only the asker may rate a query: it is looked up by its pseudonym too, so someone else's
    query is exactly as absent as a missing one (QueryLog.DoesNotExist, a 404 to the caller).
    Rating again replaces the rating and the comment."""
    if rating not in FeedbackRating.values:
        raise ValueError(f"rating must be one of {FeedbackRating.values}, got {rating!r}")
    log = QueryLog.objects.get(pk=query_id, pseudonym=pseudonym(user.pk))
    api_tokens_revoke_leaked(texts=[comment])
    feedback, _created = Feedback.objects.update_or_create(
        query_log=log, defaults={"rating": rating, "comment_redacted": redact(comment, user=user)}
    )
    metrics.feedback_given(rating)
    return feedback


def querylog_purge_expired() -> int:
    """Delete query logs older than KB_LOG_RETENTION_DAYS; returns how many went."""
    cutoff = timezone.now() - timedelta(days=settings.KB_LOG_RETENTION_DAYS)
    deleted, _by_model = QueryLog.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _retrieved_json(retrieved: Mapping[str, Iterable[tuple[str, float]]]) -> dict[str, Any]:
    """{path: [[chunk_id, score], ...]}: JSON has no tuples and no NaN."""
    return {
        str(path): [[str(chunk_id), _score(score)] for chunk_id, score in hits]
        for path, hits in (retrieved or {}).items()
    }


def _latencies_json(latencies: Mapping[str, float]) -> dict[str, float | None]:
    return {str(stage): _rounded(ms, 1) for stage, ms in (latencies or {}).items()}


def _score(value: Any) -> float | None:
    number = _rounded(value, None)
    if number is None or number == 0:
        return number
    return round(number, SCORE_DIGITS - 1 - math.floor(math.log10(abs(number))))


def _count(value: Any) -> int:
    """Within a PositiveIntegerField on every database backend."""
    return min(max(_int_or_none(value) or 0, 0), MAX_COUNT)


def _fitted(value: object, field: str) -> str:
    """Cut to the column's length: PostgreSQL refuses a longer value."""
    max_length = getattr(QueryLog._meta.get_field(field), "max_length", None)
    return str(value or "")[:max_length]


def _rounded(value: Any, digits: int | None) -> float | None:
    """None for what JSON or a database would refuse (NaN, infinity, not a number)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return number if digits is None else round(number, digits)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None
