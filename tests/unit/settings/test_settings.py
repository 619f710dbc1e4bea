"""Settings come from the environment; production refuses to start without its secrets."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from kb.settings import env
from tests.support.environment import unconfigured_environ
from tests.support.paths import ROOT

pytestmark = pytest.mark.unit


def _import_settings(module: str, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        env=unconfigured_environ(**extra),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_secret_key() -> None:
    result = _import_settings("kb.settings.production", {})

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_production_refuses_to_start_without_pseudonym_key() -> None:
    result = _import_settings("kb.settings.production", {"DJANGO_SECRET_KEY": "x" * 50})

    assert result.returncode != 0
    assert "KB_LOG_PSEUDONYM_KEY is not set" in result.stderr


def test_production_refuses_to_start_without_conversation_key() -> None:
    secrets = {"DJANGO_SECRET_KEY": "x" * 50, "KB_LOG_PSEUDONYM_KEY": "y" * 32}
    result = _import_settings("kb.settings.production", secrets)

    assert result.returncode != 0
    assert "KB_CONVERSATION_KEY is not set" in result.stderr


def test_production_starts_with_every_secret_set() -> None:
    secrets = {
        "DJANGO_SECRET_KEY": "x" * 50,
        "KB_LOG_PSEUDONYM_KEY": "y" * 32,
        "KB_CONVERSATION_KEY": "z" * 32,
        "DATABASE_URL": "postgres://quarry@db:5432/quarry",
    }
    result = _import_settings("kb.settings.production", secrets)

    assert result.returncode == 0, result.stderr


def test_defaults_are_the_embedded_stack() -> None:
    code = (
        "from kb.settings import base as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, repr(s.QDRANT_URL), "
        "repr(s.NEO4J_URI), s.KB_DATA_DIR.name)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=unconfigured_environ(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "filesystem://",
        "''",
        "''",
        "var",
    ]


def test_env_helpers_reject_malformed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_SOME_INT", "ten")
    monkeypatch.setenv("KB_SOME_BOOL", "maybe")

    with pytest.raises(ImproperlyConfigured, match="KB_SOME_INT must be an integer"):
        env.env_int("KB_SOME_INT", 1)
    with pytest.raises(ImproperlyConfigured, match="KB_SOME_BOOL must be true or false"):
        env.env_bool("KB_SOME_BOOL", False)


def _printed(expression: str, extra: dict[str, str]) -> str:
    """What `expression` over the settings (`s`) prints in a fresh process with `extra` set."""
    code = f"from kb.settings import base as s; print({expression})"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=unconfigured_environ(**extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def _backends(extra: dict[str, str]) -> list[str]:
    return _printed("' '.join(s.AUTHENTICATION_BACKENDS)", extra).split()


def test_local_passwords_are_on_by_default_and_kb_local_login_false_removes_them() -> None:
    on = _backends({})
    off = _backends({"KB_LOCAL_LOGIN": "false"})

    assert on[0] == off[0] == "axes.backends.AxesStandaloneBackend"  # throttling stays first
    assert "django.contrib.auth.backends.ModelBackend" in on
    assert "django.contrib.auth.backends.ModelBackend" not in off
    assert "kb.session_auth.SessionBackend" in off  # single sign-on sessions keep working


def _translate_searches(extra: dict[str, str]) -> str:
    return _printed("s.KB_TRANSLATE_SEARCHES", extra)


def test_searches_translate_as_questions_do_unless_set_apart() -> None:
    assert _translate_searches({}) == "True"
    assert _translate_searches({"KB_TRANSLATE_QUESTIONS": "false"}) == "False"
    assert _translate_searches({"KB_TRANSLATE_SEARCHES": "false"}) == "False"
    both = {"KB_TRANSLATE_QUESTIONS": "false", "KB_TRANSLATE_SEARCHES": "true"}
    assert _translate_searches(both) == "True"


def _model_defaults(extra: dict[str, str]) -> str:
    return _printed(
        "s.KB_EMBED_DIM, s.KB_REFUSAL_MIN_DENSE, s.KB_REFUSAL_MIN_COVERAGE, "
        "s.KB_REFUSAL_OTHER_MIN_DENSE, s.KB_REFUSAL_OTHER_MIN_COVERAGE",
        extra,
    )


def test_the_embedding_model_picks_its_vector_size_and_refusal_thresholds() -> None:
    assert _model_defaults({}) == "384 0.4 0.58 0.56 0.43"
    use = {"KB_EMBED_MODEL": "multilingual-use-v3"}
    assert _model_defaults(use) == "512 0.39 0.55 0.39 0.55"  # one scale for every script
    chosen = {**use, "KB_EMBED_DIM": "768", "KB_REFUSAL_MIN_DENSE": "0.5"}
    assert _model_defaults(chosen) == "768 0.5 0.55 0.39 0.55"  # set explicitly, they win
    assert _model_defaults({"KB_EMBED_MODEL": "/srv/models/mine"}) == "384 0.4 0.58 0.56 0.43"


def test_a_group_map_is_read_as_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_SOME_MAP", " eng-all = engineering , hr-staff=hr ")
    assert env.env_mapping("KB_SOME_MAP") == {"eng-all": "engineering", "hr-staff": "hr"}

    monkeypatch.setenv("KB_SOME_MAP", "")
    assert env.env_mapping("KB_SOME_MAP") is None  # unset: names mirrored, not "no group"

    monkeypatch.setenv("KB_SOME_MAP", "eng-all=engineering,hr")
    with pytest.raises(ImproperlyConfigured, match="KB_SOME_MAP takes source=quarry pairs"):
        env.env_mapping("KB_SOME_MAP")
