"""Start-up checks name a bad prompt configuration before any question is asked."""

from __future__ import annotations

import pytest
from django.test import override_settings

from kb.checks import prompt_templates

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
