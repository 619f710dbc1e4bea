"""Test settings: the same embedded stack, in a throw-away data folder per run."""

from __future__ import annotations

import tempfile
from pathlib import Path

from kb.settings.base import *  # noqa: F403
from kb.settings.base import CELERY_BROKER_URL, KB_DATA_DIR, filesystem_broker_options
from kb.settings.env import env_str

# A private data folder unless the test run names one (parallel runs never share stores).
if not env_str("KB_DATA_DIR"):
    KB_DATA_DIR = Path(tempfile.mkdtemp(prefix="quarry-test-"))
    MEDIA_ROOT = KB_DATA_DIR / "media"
    STATIC_ROOT = KB_DATA_DIR / "static"
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(CELERY_BROKER_URL, KB_DATA_DIR)
    if not env_str("CELERY_RESULT_BACKEND"):
        CELERY_RESULT_BACKEND = f"file://{KB_DATA_DIR / 'celery-results'}"


PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
KB_LOG_PSEUDONYM_KEY = "test-pseudonym-key"
KB_CONVERSATION_KEY = "test-conversation-key-of-at-least-32-characters"

# A file, not SQLite's shared-cache memory database: the in-process worker thread and the test
# thread then wait for each other's locks as they do in production, instead of failing at once.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(KB_DATA_DIR / "test-db.sqlite3")}  # noqa: F405

# The tests answer with the small model `make test` assembles (`make model-test`); the default
# model runs in the `model` tier (make test-model).
if not env_str("KB_LLM_MODEL_NAME") and not env_str("KB_LLM_MODEL_PATH"):
    KB_LLM_MODEL_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m"
# The small test model judges answerability poorly; tests that exercise the check turn it on.
KB_ANSWERABILITY_CHECK = False
# So does the claim judge: the lexical rules decide alone unless a test turns it on.
KB_CLAIM_JUDGE = False
# A translation is one more model call per Chinese or Russian question; tests that exercise it
# turn it on (tests/integration/retrieval/test_translation.py).
KB_TRANSLATE_QUESTIONS = False
KB_TRANSLATE_SEARCHES = False
KB_ANSWER_MAX_TOKENS = 64  # enough to see an answer cite; short enough for 2 CPU cores
# Off unless a test turns it on: ids repeat between tests, so entries would leak across them.
KB_ANSWER_CACHE_SECONDS = 0
# Sign-in throttling counts failures per address: every test client is 127.0.0.1. Off here so
# that `client.login()` (no request: axes refuses it) keeps working; the security tier turns it
# on where it tests it (tests/security/test_signin.py).
AXES_ENABLED = False
