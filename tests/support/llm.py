"""The small model the tests ask for real (`make model-test` assembles it, about 470 MB)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from kb.llm.gguf import MODELS, model_path

SMALL_MODEL_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m"
SMALL_MODEL = MODELS[SMALL_MODEL_NAME]
# Settings of a server process that answers with the small model. It judges answerability
# poorly, so the check is off as in kb/settings/test.py (so is the claim judge); the default
# model's tier tests both.
# Question translation is off as there too (tests/integration/retrieval/test_translation.py).
SMALL_MODEL_ENV = {
    "KB_LLM_MODEL_NAME": SMALL_MODEL_NAME,
    "KB_ANSWERABILITY_CHECK": "false",
    "KB_TRANSLATE_QUESTIONS": "false",
    "KB_TRANSLATE_SEARCHES": "false",
    "KB_CLAIM_JUDGE": "false",
}


def small_model_path() -> Path:
    """Where the small model is; a test that needs it fails, loudly, when it is missing."""
    path = model_path(SMALL_MODEL, Path(settings.KB_MODELS_DIR))
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make model-test` (make test does it)")
    return path
