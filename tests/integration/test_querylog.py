"""The query log as stored: pseudonymous, redacted, rateable only by the asker, printable for
analysts, and deleted after the retention period."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core import serializers
from django.core.management import call_command
from django.utils import timezone
from pytest_django.fixtures import Settings

from kb.celery import app as celery_app
from kb.models import Conversation, Feedback, QueryLog
from kb.services.querylog import (
    QueryRecord,
    feedback_record,
    pseudonym,
    querylog_purge_expired,
    querylog_write,
)
from kb.tasks import conversations_purge_expired_task, querylog_purge_expired_task
from tests.support.factories import UserFactory
from tests.support.personas import World

pytestmark = pytest.mark.integration

RAW_ID = 987654


@pytest.fixture
def asker(db: None) -> Any:
    return UserFactory.create(
        id=RAW_ID,
        username="awalker",
        first_name="Alice",
        last_name="Walker",
        email="alice.walker@corp.example",
    )


def _record(**overrides: Any) -> QueryRecord:
    fields: dict[str, Any] = {
        "collection_ids": [3, 1],
        "retrieved": {
            "dense": [("c-1", 0.8123456), ("c-2", 0.5)],
            "fused": [("c-1", 0.016393442)],
        },
        "latencies_ms": {"retrieve": 12.345, "generate": 800.06, "total": 812.4}
        | overrides.pop("latencies_ms", {}),
        "prompt_tokens": 321,
        "completion_tokens": 54,
        "model": "qwen2.5-coder-1.5b-instruct-q4_k_m",
        "template_version": "answer-v1",
    }
    return QueryRecord(**(fields | overrides))


def _write(user: Any, question: str = "How do I reset VPN?", **overrides: Any) -> QueryLog:
    return querylog_write(user=user, question=question, record=_record(**overrides))


def _serialized(*rows: QueryLog | Feedback) -> str:
    return serializers.serialize("json", rows)


def _kb_querylog(*args: str) -> str:
    out = StringIO()
    call_command("kb_querylog", *args, stdout=out)
    return out.getvalue()


# Pseudonyms


def test_pseudonym_is_a_stable_keyed_hash_not_the_id(world: World) -> None:
    alice, bob = world.users["hr_reader"], world.users["engineer"]

    first, again, other = pseudonym(alice.pk), pseudonym(alice.pk), pseudonym(bob.pk)

    assert first == again
    assert first != other
    assert first != str(alice.pk)
    assert re.fullmatch(r"[0-9a-f]{64}", first)


def test_pseudonym_is_the_hmac_sha256_of_the_id_under_the_configured_key(
    settings: Settings,
) -> None:
    settings.KB_LOG_PSEUDONYM_KEY = "k"

    expected = hmac.new(b"k", b"42", hashlib.sha256).hexdigest()

    assert pseudonym(42) == expected


def test_another_key_gives_other_pseudonyms(settings: Settings) -> None:
    before = pseudonym(42)

    settings.KB_LOG_PSEUDONYM_KEY = "another-key"

    assert pseudonym(42) != before


# Writing


def test_row_contains_no_identity_of_the_asker(asker: Any) -> None:
    question = (
        "Alice Walker here (awalker, alice.walker@corp.example, +1 415 555 0100): "
        "why was card 4111 1111 1111 1111 charged on PostgreSQL 15.4?"
    )

    row = _write(asker, question, answer="Alice, email alice.walker@corp.example about it [1].")

    assert row.answer_redacted == "[user], email [email] about it [1]."
    assert row.question_redacted == (
        "[user] here ([user], [email], [phone]): why was card [card] charged on PostgreSQL 15.4?"
    )
    dumped = _serialized(row).lower()
    for secret in ("awalker", "alice", "walker", "corp.example", str(RAW_ID)):
        assert secret not in dumped
    assert row.pseudonym == pseudonym(RAW_ID)


def test_row_keeps_what_the_analyst_needs(asker: Any) -> None:
    row = _write(asker)

    row.refresh_from_db()
    assert row.collection_ids == [3, 1]
    assert row.retrieved == {"dense": [["c-1", 0.8123], ["c-2", 0.5]], "fused": [["c-1", 0.01639]]}
    assert row.latencies_ms == {"retrieve": 12.3, "generate": 800.1, "total": 812.4}
    assert (row.prompt_tokens, row.completion_tokens) == (321, 54)
    assert (row.model, row.template_version, row.refused) == (
        "qwen2.5-coder-1.5b-instruct-q4_k_m",
        "answer-v1",
        False,
    )


def test_the_pseudonym_key_is_nowhere_in_the_database(asker: Any) -> None:
    feedback_record(user=asker, query_id=_write(asker).pk, rating="up", comment="thanks")
    out = StringIO()

    call_command("dumpdata", stdout=out)

    assert django_settings.KB_LOG_PSEUDONYM_KEY not in out.getvalue()


ODD_RECORDS = {
    "empty question": ("", {}),
    "nul and lone surrogate": ("why\x00\ud800?", {}),
    "non-finite scores": ("q", {"retrieved": {"dense": [("c", math.nan), ("d", math.inf)]}}),
    "nonsense numbers": (
        "q",
        {"prompt_tokens": -5, "completion_tokens": 10**12, "latencies_ms": {"x": "slow"}},
    ),
    "empty everything": ("q", {"collection_ids": [], "retrieved": {}, "latencies_ms": {}}),
    "too long model name": ("q", {"model": "m" * 500, "template_version": "t" * 500}),
}


@pytest.mark.parametrize(("question", "overrides"), ODD_RECORDS.values(), ids=ODD_RECORDS.keys())
def test_odd_input_is_stored_not_rejected(
    asker: Any, question: str, overrides: dict[str, Any]
) -> None:
    row = _write(asker, question, **overrides)

    row.refresh_from_db()
    assert json.loads(_serialized(row))[0]["fields"]["pseudonym"] == pseudonym(asker.pk)
    assert 0 <= row.prompt_tokens < 2**31 and 0 <= row.completion_tokens < 2**31
    assert len(row.model) <= 200 and len(row.template_version) <= 50


# Feedback


def test_feedback_is_redacted_and_a_second_rating_replaces_the_first(asker: Any) -> None:
    log = _write(asker)

    feedback_record(
        user=asker, query_id=log.pk, rating="down", comment="Alice: call +44 20 7946 0958"
    )
    feedback = feedback_record(user=asker, query_id=log.pk, rating="up", comment="ok now, Walker")

    assert Feedback.objects.filter(query_log=log).count() == 1
    feedback.refresh_from_db()
    assert (feedback.rating, feedback.comment_redacted) == ("up", "ok now, [user]")


def test_first_comment_is_redacted(asker: Any) -> None:
    log = _write(asker)

    feedback = feedback_record(
        user=asker, query_id=log.pk, rating="down", comment="Alice: call +44 20 7946 0958"
    )

    assert feedback.comment_redacted == "[user]: call [phone]"


def test_someone_elses_query_is_as_absent_as_a_missing_one(asker: Any, world: World) -> None:
    log = _write(asker)

    with pytest.raises(QueryLog.DoesNotExist):
        feedback_record(user=world.users["engineer"], query_id=log.pk, rating="up")
    with pytest.raises(QueryLog.DoesNotExist):
        feedback_record(user=asker, query_id=log.pk + 1000, rating="up")
    assert not Feedback.objects.exists()


def test_rating_must_be_up_or_down(asker: Any) -> None:
    log = _write(asker)

    with pytest.raises(ValueError, match="rating"):
        feedback_record(user=asker, query_id=log.pk, rating="meh")


# The analyst's view


def test_json_lines_match_the_rows(asker: Any) -> None:
    older = _write(asker, "first, by Alice")
    newer = _write(asker, "second", refused=True)
    feedback_record(user=asker, query_id=older.pk, rating="down", comment="wrong, awalker")

    lines = _kb_querylog("--json").splitlines()

    printed = [json.loads(line) for line in lines]
    assert [p["id"] for p in printed] == [newer.pk, older.pk]
    first = printed[1]
    assert first == {
        "id": older.pk,
        "created_at": older.created_at.isoformat(),
        "pseudonym": pseudonym(RAW_ID),
        "question": "first, by [user]",
        "answer": "",
        "collection_ids": [3, 1],
        "retrieved": {"dense": [["c-1", 0.8123], ["c-2", 0.5]], "fused": [["c-1", 0.01639]]},
        "latencies_ms": {"retrieve": 12.3, "generate": 800.1, "total": 812.4},
        "tokens": {"prompt": 321, "completion": 54},
        "model": "qwen2.5-coder-1.5b-instruct-q4_k_m",
        "template_version": "answer-v1",
        "refused": False,
        "refusal": "",
        "cached": False,
        "feedback": {"rating": "down", "comment": "wrong, [user]"},
    }
    assert printed[0]["refused"] is True and printed[0]["feedback"] is None


def test_limit_and_days_narrow_the_output(asker: Any) -> None:
    old, recent, newest = (_write(asker, q) for q in ("old", "recent", "newest"))
    QueryLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))

    last_week = [
        json.loads(line)["id"] for line in _kb_querylog("--json", "--days", "7").splitlines()
    ]
    limited = [
        json.loads(line)["id"] for line in _kb_querylog("--json", "--limit", "1").splitlines()
    ]

    assert last_week == [newest.pk, recent.pk]
    assert limited == [newest.pk]


def test_table_shows_one_line_per_entry(asker: Any) -> None:
    log = _write(asker, "How do I reset VPN? " * 10)

    lines = _kb_querylog().splitlines()

    assert len(lines) == 2 and lines[0].split()[0] == "id"
    assert lines[1].split()[0] == str(log.pk) and lines[1].endswith("…")
    assert pseudonym(RAW_ID)[:8] in lines[1]


# Retention


def test_retention_deletes_only_rows_older_than_the_setting(asker: Any, settings: Settings) -> None:
    settings.KB_LOG_RETENTION_DAYS = 30
    expired, kept = _write(asker, "expired"), _write(asker, "kept")
    feedback_record(user=asker, query_id=expired.pk, rating="up")
    QueryLog.objects.filter(pk=expired.pk).update(created_at=timezone.now() - timedelta(days=31))
    QueryLog.objects.filter(pk=kept.pk).update(created_at=timezone.now() - timedelta(days=29))

    querylog_purge_expired_task()

    assert list(QueryLog.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not Feedback.objects.exists()
    assert querylog_purge_expired() == 0


def test_retention_task_is_registered_and_scheduled() -> None:
    scheduled = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}

    assert querylog_purge_expired_task.name in scheduled
    assert querylog_purge_expired_task.name in celery_app.tasks


def test_chat_histories_expire_too(asker: Any, settings: Settings) -> None:
    settings.KB_CONVERSATION_RETENTION_DAYS = 30
    old = Conversation.objects.create(user=asker, title="old")
    recent = Conversation.objects.create(user=asker, title="recent")
    Conversation.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=31))

    assert conversations_purge_expired_task() == 1
    assert list(Conversation.objects.values_list("pk", flat=True)) == [recent.pk]
    assert conversations_purge_expired_task.name in {
        entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()
    }
    settings.KB_CONVERSATION_RETENTION_DAYS = 0
    Conversation.objects.filter(pk=recent.pk).update(
        updated_at=timezone.now() - timedelta(days=999)
    )
    assert conversations_purge_expired_task() == 0  # 0 keeps them
