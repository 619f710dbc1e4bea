"""`manage.py kb_forget_user`: a person's account, tokens, conversations, feedback comments and
sign-in records go (and with --query-logs their pseudonymous query log rows), counted in what
it prints; another person's data stays exactly as it was."""

from __future__ import annotations

from dataclasses import dataclass
from io import StringIO
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessLog
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from kb.models import ApiToken, Conversation, Feedback, QueryLog, Turn
from kb.services.api_tokens import api_token_create
from kb.services.conversations import exchange_record
from kb.services.querylog import QueryRecord, feedback_record, pseudonym, querylog_write
from tests.support.factories import UserFactory

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Footprint:
    """Everything stored about one person, as the tables hold it."""

    account: bool
    tokens: int
    conversations: int
    turns: int
    logs: int
    ratings: int
    comments: list[str]
    signins: int


def _footprint(username: str, user_id: int) -> Footprint:
    logged = QueryLog.objects.filter(pseudonym=pseudonym(user_id))
    feedback = Feedback.objects.filter(query_log__in=logged)
    return Footprint(
        account=get_user_model().objects.filter(pk=user_id).exists(),
        tokens=ApiToken.objects.filter(user_id=user_id).count(),
        conversations=Conversation.objects.filter(user_id=user_id).count(),
        turns=Turn.objects.filter(conversation__user_id=user_id).count(),
        logs=logged.count(),
        ratings=feedback.count(),
        comments=sorted(
            feedback.exclude(comment_redacted="").values_list("comment_redacted", flat=True)
        ),
        signins=sum(
            model.objects.filter(username=username).count() for model in (AccessAttempt, AccessLog)
        ),
    )


def _live(username: str, *, questions: int) -> Any:
    """A user with two tokens, one conversation, `questions` logged questions each rated (the
    first with a comment), and sign-in records."""
    user = UserFactory.create(username=username)
    for name in ("laptop", "ci"):
        api_token_create(user=user, name=name)
    exchange_record(
        user=user,
        conversation_id=None,
        question="Who descales the coffee machine?",
        answer="The facilities team.",
        refused=False,
        citations=[],
    )
    record = QueryRecord(collection_ids=[1], retrieved={}, latencies_ms={"total": 5.0})
    for n in range(questions):
        log = querylog_write(user=user, question=f"Question {n} of {username}", record=record)
        comment = "The rota is out of date." if n == 0 else ""
        feedback_record(user=user, query_id=log.pk, rating="down", comment=comment)
    now = timezone.now()
    AccessAttempt.objects.create(
        username=username, ip_address="10.0.0.7", attempt_time=now, failures_since_start=2
    )
    AccessLog.objects.create(username=username, ip_address="10.0.0.7", attempt_time=now)
    return user


def _forget(*args: str) -> str:
    out = StringIO()
    call_command("kb_forget_user", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def people(db: None) -> tuple[Any, Any]:
    return _live("alice", questions=3), _live("bob", questions=2)


def test_without_query_logs_everything_personal_goes_and_the_log_rows_stay(
    people: tuple[Any, Any],
) -> None:
    alice, bob = people
    bob_before = _footprint("bob", bob.pk)

    printed = _forget("alice")

    assert printed.splitlines() == [
        "Erased alice:",
        "  account: 1",
        "  API tokens: 2",
        "  conversations: 1 (2 questions and answers)",
        "  feedback comments: 1",
        "  sign-in records: 2",
        "  query log rows: 0 (3 kept; with --query-logs they would have gone too)",
    ]
    assert _footprint("alice", alice.pk) == Footprint(
        account=False,
        tokens=0,
        conversations=0,
        turns=0,
        logs=3,  # anonymous rows stay, ratings on them, without the comment
        ratings=3,
        comments=[],
        signins=0,
    )
    assert _footprint("bob", bob.pk) == bob_before


def test_with_query_logs_the_pseudonymous_rows_and_their_ratings_go_too(
    people: tuple[Any, Any],
) -> None:
    alice, bob = people
    bob_before = _footprint("bob", bob.pk)
    assert bob_before.logs == 2 and bob_before.comments == ["The rota is out of date."]

    printed = _forget("alice", "--query-logs")

    assert "  feedback comments: 1" in printed.splitlines()
    assert printed.splitlines()[-1] == "  query log rows: 3"
    assert _footprint("alice", alice.pk) == Footprint(
        account=False, tokens=0, conversations=0, turns=0, logs=0, ratings=0, comments=[], signins=0
    )
    assert QueryLog.objects.count() == 2 and Feedback.objects.count() == 2  # bob's alone
    assert _footprint("bob", bob.pk) == bob_before


def test_an_unknown_user_is_an_error_and_nothing_changes(people: tuple[Any, Any]) -> None:
    alice, bob = people
    before = [_footprint("alice", alice.pk), _footprint("bob", bob.pk)]

    with pytest.raises(CommandError, match="No user named 'carol'"):
        _forget("carol")

    assert [_footprint("alice", alice.pk), _footprint("bob", bob.pk)] == before
