"""The logs hold no secrets (issue 11): what an analyst, an operator reading the JSON logs or
anyone holding the source code can learn about the people who asked.

The attacker here reads the query log, the feedback export, the analytics page or the
structured logs, or knows the published source and a user's sequential id.
"""

from __future__ import annotations

import hashlib
import hmac
import multiprocessing
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings

from kb.checks import pseudonym_key as pseudonym_key_check
from kb.querylog import PSEUDONYM_KEY_FILE, _install_key, pseudonym
from tests.environment import unconfigured_environ

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PUBLISHED_KEY = b"dev-insecure-pseudonym-key"  # the old default, readable in git history


# Pseudonym key: never one that the source code publishes


@pytest.fixture
def no_configured_key(settings: Settings, tmp_path: Path) -> Path:
    """`make run` as shipped: KB_LOG_PSEUDONYM_KEY unset, a fresh data directory."""
    settings.KB_LOG_PSEUDONYM_KEY = ""
    settings.KB_DATA_DIR = tmp_path / "install-a"
    return settings.KB_DATA_DIR


def _published_pseudonym(user_id: int) -> str:
    return hmac.new(PUBLISHED_KEY, str(user_id).encode(), hashlib.sha256).hexdigest()


def test_default_settings_carry_no_pseudonym_key_and_read_no_file(tmp_path: Path) -> None:
    code = "from kb.settings import base; print(repr(base.KB_LOG_PSEUDONYM_KEY))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=unconfigured_environ(KB_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert result.stdout.strip() == "''"
    assert list(tmp_path.iterdir()) == []  # importing settings created no key file


def test_an_attacker_cannot_recompute_a_pseudonym_from_the_published_key(
    no_configured_key: Path,
) -> None:
    assert pseudonym(42) != _published_pseudonym(42)
    assert PUBLISHED_KEY not in (no_configured_key / PSEUDONYM_KEY_FILE).read_bytes()


def test_two_installs_get_two_keys_and_one_install_keeps_its_key(
    settings: Settings, no_configured_key: Path, tmp_path: Path
) -> None:
    first = pseudonym(42)
    settings.KB_DATA_DIR = tmp_path / "install-b"
    other_install = pseudonym(42)
    settings.KB_DATA_DIR = no_configured_key
    _install_key.cache_clear()  # as a restarted process would read it

    assert other_install != first
    assert pseudonym(42) == first


def test_the_generated_key_file_is_readable_by_its_owner_only(no_configured_key: Path) -> None:
    pseudonym(1)

    mode = stat.S_IMODE((no_configured_key / PSEUDONYM_KEY_FILE).stat().st_mode)
    assert mode == 0o600
    assert [p.name for p in no_configured_key.iterdir()] == [PSEUDONYM_KEY_FILE]


def _key_in_new_process(path: str) -> bytes:
    _install_key.cache_clear()
    return _install_key(Path(path))


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = str(tmp_path / PSEUDONYM_KEY_FILE)
    with multiprocessing.get_context("fork").Pool(6) as pool:
        keys = pool.map(_key_in_new_process, [path] * 24)

    assert len(set(keys)) == 1
    assert len(keys[0]) >= 32


def test_a_configured_key_wins_over_the_generated_one(
    settings: Settings, no_configured_key: Path
) -> None:
    settings.KB_LOG_PSEUDONYM_KEY = "k" * 40

    assert pseudonym(42) == hmac.new(b"k" * 40, b"42", hashlib.sha256).hexdigest()
    assert not no_configured_key.exists()


def test_the_published_default_is_refused_at_start(settings: Settings) -> None:
    settings.KB_LOG_PSEUDONYM_KEY = PUBLISHED_KEY.decode()

    assert [error.id for error in pseudonym_key_check()] == ["kb.E020"]
