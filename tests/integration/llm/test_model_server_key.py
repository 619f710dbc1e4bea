"""KB_LLM_API_KEY: a model server started with `--api-key` answers only requests that carry it,
and a wrong or missing key says what to set instead of a bare HTTP error."""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings

from kb.llm.chat import LlmUnavailable
from kb.llm.factory import chat_model, forget_chat_model
from tests.support.model_server import scripted_model_server

pytestmark = pytest.mark.integration


def test_the_key_is_sent_and_a_missing_one_is_named(settings: Settings) -> None:
    with scripted_model_server(reply="Backups run nightly.") as (url, scripted):
        scripted.api_key = "sk-model-server-key"
        settings.KB_LLM_BASE_URL = url
        settings.KB_LLM_API_KEY = ""
        forget_chat_model()
        with pytest.raises(LlmUnavailable, match="KB_LLM_API_KEY") as refused:
            chat_model().chat([{"role": "user", "content": "hi"}], max_tokens=5)
        assert "sk-model-server-key" not in str(refused.value)

        settings.KB_LLM_API_KEY = "sk-model-server-key"
        forget_chat_model()
        answer = chat_model().chat([{"role": "user", "content": "hi"}], max_tokens=5)
        streamed = "".join(chat_model().stream([{"role": "user", "content": "hi"}], max_tokens=5))
    forget_chat_model()

    assert answer == "Backups run nightly."
    assert streamed.split() == ["Backups", "run", "nightly."]
