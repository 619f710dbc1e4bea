"""The anonymised query log (DESIGN.md, Data model: QueryLog): writes and the redaction they use.

A row must be useful to an analyst and useless for finding out who asked: the asker appears only
as a keyed pseudonym (the key lives in the environment, never in the database), and free text
(questions, feedback comments) loses contact details, payment numbers and the asker's own name
before it is stored. Redaction favours precision on technical text: versions, ports, dates and
error codes stay readable, so payment numbers are only taken when their checksum holds.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction

from kb.models import Feedback, FeedbackRating, QueryLog
from kb.observability import metrics

MAX_COUNT = 2**31 - 1
SCORE_DIGITS = 4  # significant digits: tells ranks apart for cosine (0.8123) and RRF (0.01639)

# Latin and Cyrillic only: CJK text runs into an address without a space ("请联系alice@x.cn").
# Starting only where a local part starts keeps a long run of such characters linear.
_EMAIL = re.compile(
    r"(?<![0-9A-Za-z\u0400-\u04ff._%+-])[0-9A-Za-z\u0400-\u04ff._%+-]+"
    r"@(?:[0-9A-Za-z\u0400-\u04ff-]+\.)+"
    r"(?:[A-Za-z]{2,}|[\u0400-\u04ff]{2,})"  # a letter TLD: lodash@4.17.21 is no address
)
_IBAN = re.compile(
    r"(?<![0-9A-Za-z_])[A-Z]{2}\d{2}"
    r"(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)(?![0-9A-Za-z_])",
    re.IGNORECASE,
)
# A number is one when no ASCII letter, digit or decimal point touches it; CJK text may.
_NUM_START = r"(?<![0-9A-Za-z_+.-])"
_NUM_END = r"(?![0-9A-Za-z_]|[.-][0-9])"
_CARD = re.compile(
    _NUM_START
    + r"(?:[2-6]\d{12,18}"  # compact; payment cards start with 2-6
    + r"|[2-6]\d{3}(?:[ -]\d{4}){3}(?:[ -]\d{3})?"  # 4-4-4-4(-3)
    + r"|3\d{3}[ -]\d{6}[ -]\d{4,5})"  # Amex and Diners: 4-6-5, 4-6-4
    + _NUM_END
)
_PHONE = re.compile(
    _NUM_START
    + r"(?:\+\d(?:[ ()-]{0,2}\d){6,16}"  # +1 415 555 0100, +7 (495) 123-45-67; linear
    + r"|(?:\d{1,2}[ -]?)?\(\d{2,5}\)[ -]?\d{2,4}(?:[ -]?\d{2,4}){1,3}"  # (415) 555-0100
    + r"|[2-9]\d{2}([-.])[2-9]\d{2}\1\d{4}"  # 415-555-0100
    + r"|8[ -]?\d{3}[ -]?\d{3}[ -]?\d{2}[ -]?\d{2}"  # 8 495 123 45 67
    + r"|1[3-9]\d[ -]?\d{4}[ -]?\d{4})"  # 138 0013 8000
    + _NUM_END
)
PHONE_DIGITS = range(8, 16)  # E.164 allows at most 15
_CJK_RANGES = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK = re.compile(f"[{_CJK_RANGES}]")
_WORD_NOT_CJK = rf"[^\W{_CJK_RANGES}]"  # a word boundary: CJK text runs into Latin words
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_PLACEHOLDER = r"(?P<keep>\[(?:email|phone|card|iban|user)\])"


def pseudonym(user_id: int) -> str:
    """Stable per user, so an analyst can follow one asker's session, yet not reversible
    without the key; the key is read here, at call time, so tests and rotations take effect."""
    key = settings.KB_LOG_PSEUDONYM_KEY.encode()
    return hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()


def redact(text: str, *, user: AbstractBaseUser | AnonymousUser | None = None) -> str:
    """`text` without emails, IBANs, card and phone numbers, and the asker's own names.

    Also drops what a database cannot store (NUL, lone surrogates): the result is always safe to
    write, so odd input never breaks logging."""
    if not text:
        return ""
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    text = _EMAIL.sub("[email]", text)
    text = _IBAN.sub(_replace_iban, text)
    text = _CARD.sub(_replace_card, text)
    text = _PHONE.sub(_replace_phone, text)
    own = _user_pattern(user)
    return own.sub(lambda m: m.group("keep") or "[user]", text) if own else text


def _replace_iban(match: re.Match[str]) -> str:
    """The longest valid IBAN at the start of the match: a short word after the last group of
    a spaced IBAN looks like one more group."""
    found = match.group()
    parts = found.split(" ")
    for end in range(len(parts), 0, -1):
        head = " ".join(parts[:end])
        if _iban_valid(head):
            return "[iban]" + found[len(head) :]
    return found


def _iban_valid(text: str) -> bool:
    """ISO 13616 mod-97: hashes and identifiers of the same shape are kept."""
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _replace_card(match: re.Match[str]) -> str:
    return "[card]" if _luhn_valid(re.sub(r"\D", "", match.group())) else match.group()


def _luhn_valid(digits: str) -> bool:
    """Every card number passes; nine in ten other long numbers (ids, sizes) do not."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char) * (2 if position % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def _replace_phone(match: re.Match[str]) -> str:
    digits = sum(char.isdigit() for char in match.group())
    return "[phone]" if digits in PHONE_DIGITS else match.group()


def _user_pattern(user: AbstractBaseUser | AnonymousUser | None) -> re.Pattern[str] | None:
    """The asker's names, longest first so a full name wins over its parts. Placeholders already
    in the text match first and are kept, so a user called "email" cannot rewrite them."""
    terms = _user_terms(user)
    if not terms:
        return None
    alternatives = "|".join(_term_regex(term) for term in sorted(terms, key=len, reverse=True))
    return re.compile(f"{_PLACEHOLDER}|{alternatives}", re.IGNORECASE)


def _user_terms(user: AbstractBaseUser | AnonymousUser | None) -> set[str]:
    """Username, email, first, last and full name in both orders (with and without a space:
    CJK full names are written surname first, unspaced). One-letter terms would eat ordinary
    text, so they are skipped (a one-character CJK given name goes only as part of the full
    name)."""
    if not isinstance(user, AbstractBaseUser):
        return set()
    first = str(getattr(user, "first_name", "") or "").strip()
    last = str(getattr(user, "last_name", "") or "").strip()
    email = str(getattr(user, user.get_email_field_name(), "") or "").strip()
    terms = {user.get_username().strip(), email, first, last}
    if first and last:
        terms |= {f"{first} {last}", f"{last} {first}", f"{last}{first}", f"{first}{last}"}
    return {term for term in terms if len(term) >= 2}


def _term_regex(term: str) -> str:
    """CJK has no word boundaries, so a CJK name matches anywhere; other names match whole
    words, Cyrillic ones with up to two letters of case ending (Иван, Ивана, Иваном)."""
    escaped = re.escape(term).replace(r"\ ", r"\s+")
    if _CJK.search(term):
        return escaped
    ending = r"[\u0430-\u044f\u0451]{0,2}" if _CYRILLIC.search(term[-1]) else ""
    return rf"(?<!{_WORD_NOT_CJK}){escaped}{ending}(?!{_WORD_NOT_CJK})"


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
    answer: str = ""  # the model's answer, redacted like the question (feedback export)
    cached: bool = False


def querylog_write(*, user: AbstractBaseUser, question: str, record: QueryRecord) -> QueryLog:
    """One row per question. Odd values in the record are cleaned, not rejected: logging must
    never break answering (a database error still propagates)."""
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
        cached=bool(record.cached),
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
    feedback, _created = Feedback.objects.update_or_create(
        query_log=log, defaults={"rating": rating, "comment_redacted": redact(comment, user=user)}
    )
    metrics.feedback_given(rating)
    return feedback


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
