"""`manage.py kb_model` with no name assembles what the settings will open: the answering model
and, when it has one of its own, the translating model (`make model` and `make run` call it)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from kb.management.commands.kb_model import configured_models

pytestmark = pytest.mark.unit
ANSWERING = "qwen2.5-coder-1.5b-instruct-q4_k_m"
SMALL = "qwen2.5-coder-0.5b-instruct-q4_k_m"


@pytest.mark.parametrize(
    ("translating", "expected"),
    [("", [ANSWERING]), (ANSWERING, [ANSWERING]), (SMALL, [ANSWERING, SMALL])],
    ids=["answering-model-translates", "same-model", "a-model-of-its-own"],
)
def test_the_models_assembled_follow_the_settings(translating: str, expected: list[str]) -> None:
    with override_settings(KB_LLM_MODEL_NAME=ANSWERING, KB_TRANSLATE_MODEL_NAME=translating):
        assert configured_models() == expected
