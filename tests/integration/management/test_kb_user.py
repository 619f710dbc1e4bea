"""`manage.py kb_user`: users, groups on demand, and a token that works."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.support.clients import bearer_client

pytestmark = pytest.mark.integration


def _run(*args: str) -> str:
    out = StringIO()
    call_command("kb_user", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_token_flag_prints_exactly_one_working_token(db: None) -> None:
    printed = _run("alice", "--groups", "hr", "--token")

    lines = printed.splitlines()
    assert len(lines) == 1 and lines[0].startswith("qry_")
    client = bearer_client(lines[0])
    assert client.get("/api/v1/me").json()["groups"] == ["hr"]


def test_groups_are_created_on_demand_and_replaced_on_update(db: None) -> None:
    _run("bob", "--groups", "eng,ops")
    _run("bob", "--groups", "ops")

    bob = get_user_model().objects.get(username="bob")
    assert sorted(bob.groups.values_list("name", flat=True)) == ["ops"]


def test_without_groups_flag_memberships_are_kept(db: None) -> None:
    _run("carol", "--groups", "hr")
    _run("carol", "--staff", "--password", "a-long-passphrase")

    carol = get_user_model().objects.get(username="carol")
    assert carol.is_staff
    assert carol.check_password("a-long-passphrase")
    assert list(carol.groups.values_list("name", flat=True)) == ["hr"]


def test_without_token_flag_nothing_is_printed_on_stdout(db: None) -> None:
    assert _run("dave") == ""
