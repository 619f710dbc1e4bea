"""Password guessing, from the attacker's side: one account from many addresses, many accounts
from one address, the sign-in page and the admin's. After KB_SIGNIN_FAILURE_LIMIT failures the
account (or the address) is refused for the cool-off, even with the right password, with a page
that says so (429), never a 500."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from tests.support.factories import UserFactory

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery staple"
LOGIN = "/accounts/login/"
LOCKED_OUT = "Too many failed sign-ins for this account or from this address."


@pytest.fixture(autouse=True)
def throttled(settings: Settings) -> None:
    """The test settings turn axes off (client.login has no request); here it is the subject."""
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5


@pytest.fixture
def alice(db: None) -> Any:
    user = UserFactory.create(username="alice")
    user.set_password(PASSWORD)
    user.save()
    return user


def _sign_in(username: str, password: str, *, address: str, url: str = LOGIN) -> Any:
    return Client().post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def _alert(response: Any) -> str:
    """The page's message (the rest holds per-request tokens)."""
    found = re.search(r'role="alert">([^<]*)<', response.content.decode())
    return found.group(1) if found else ""


def _signed_in(response: Any) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.client.session


def test_guessing_one_account_from_many_addresses_locks_the_account(alice: Any) -> None:
    for n in range(5):
        _sign_in("alice", f"guess-{n}", address=f"203.0.113.{n + 1}")

    response = _sign_in("alice", PASSWORD, address="198.51.100.9")

    assert response.status_code == 429
    assert LOCKED_OUT in response.content.decode()
    assert "Try again in 15 minutes." in response.content.decode()
    assert not _signed_in(response)


def test_guessing_many_accounts_from_one_address_locks_the_address(alice: Any) -> None:
    for n in range(5):
        _sign_in(f"user-{n}", "password1", address="203.0.113.50")

    from_there = _sign_in("alice", PASSWORD, address="203.0.113.50")
    from_elsewhere = _sign_in("alice", PASSWORD, address="198.51.100.9")

    assert from_there.status_code == 429
    assert LOCKED_OUT in from_there.content.decode()
    assert _signed_in(from_elsewhere)


def test_a_few_typos_do_not_lock_anyone_out(alice: Any) -> None:
    for n in range(4):
        _sign_in("alice", f"typo-{n}", address="198.51.100.9")

    assert _signed_in(_sign_in("alice", PASSWORD, address="198.51.100.9"))


def test_an_unknown_account_locks_out_exactly_like_a_real_one(alice: Any) -> None:
    for name in ("alice", "nobody-here"):
        for n in range(5):
            _sign_in(name, f"guess-{n}", address=f"203.0.113.{n + 10}")

    real = _sign_in("alice", "again", address="198.51.100.1")
    unknown = _sign_in("nobody-here", "again", address="198.51.100.2")

    assert (real.status_code, unknown.status_code) == (429, 429)
    assert _alert(real) == _alert(unknown) and LOCKED_OUT in _alert(real)


def test_the_admin_sign_in_is_throttled_too(db: None) -> None:
    staff = UserFactory.create(username="sam", is_staff=True)
    staff.set_password(PASSWORD)
    staff.save()
    for n in range(5):
        _sign_in("sam", f"guess-{n}", address=f"203.0.113.{n + 20}", url="/admin/login/")

    response = _sign_in("sam", PASSWORD, address="198.51.100.7", url="/admin/login/")

    assert response.status_code == 429
    assert LOCKED_OUT in response.content.decode()
