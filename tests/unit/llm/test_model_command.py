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


@pytest.mark.parametrize(
    "elsewhere",
    [{"KB_LLM_BASE_URL": "http://llm:8080/v1"}, {"KB_LLM_MODEL_PATH": "/srv/models/mine.gguf"}],
    ids=["model-server", "own-file"],
)
def test_an_answering_model_that_is_not_assembled_here_is_not_fetched(
    elsewhere: dict[str, str],
) -> None:
    """A model server's name is not one kb_model knows, and a file of one's own needs no
    default model beside it; the translating model is still assembled."""
    with override_settings(KB_LLM_MODEL_NAME="served-model", **elsewhere):
        with override_settings(KB_TRANSLATE_MODEL_NAME=""):
            assert configured_models() == []
        with override_settings(KB_TRANSLATE_MODEL_NAME=SMALL):
            assert configured_models() == [SMALL]
