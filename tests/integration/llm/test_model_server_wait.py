"""A side step's wait limit (kb.llm.cancel.waiting_at_most) holds for a model server too: a
question's translation waits for a server still busy with other requests no longer than its
limit, is told the model is busy (it is then searched as asked), and a request without a limit
waits for the reply as usual. The server is the scripted counterpart on loopback, holding
every request until the test releases it."""

from __future__ import annotations

import threading
import time

import pytest

from kb.llm.cancel import waiting_at_most
from kb.llm.chat import LlmBusy, OpenAICompatibleChat
from kb.text.script import LATIN_SCRIPT
from retrieval.translation import QuestionTranslator
from tests.support.model_server import scripted_model_server

pytestmark = pytest.mark.integration
# Callers of one access scope share remembered translations (retrieval.translation.Sharing).
SCOPE = ((1,), ("group:1",))


def test_a_translation_waits_only_its_limit_for_a_busy_model_server() -> None:
    with scripted_model_server(reply="How long are backups kept?") as (url, scripted):
        scripted.released = threading.Event()  # the server is busy until released
        chat = OpenAICompatibleChat(url, model="m", timeout=30)
        translator = QuestionTranslator(lambda: chat, wait_seconds=0.5)
        started = time.monotonic()
        translated = translator.translate("备份保留多久？", LATIN_SCRIPT, shared_by=SCOPE)
        waited = time.monotonic() - started
        scripted.released.set()
        free = translator.translate("备份保留多久？", LATIN_SCRIPT, shared_by=SCOPE)

    assert translated is None  # not written now: asked again next time
    assert 0.5 <= waited < 2.0
    assert free == "How long are backups kept?"


def test_only_a_request_with_a_limit_gives_up_on_a_slow_reply() -> None:
    with scripted_model_server(reply="Nightly.") as (url, scripted):
        scripted.released = threading.Event()
        chat = OpenAICompatibleChat(url, model="m", timeout=30)
        threading.Timer(1.0, scripted.released.set).start()
        with pytest.raises(LlmBusy, match="did not reply in time"), waiting_at_most(0.3):
            chat.chat([{"role": "user", "content": "When?"}], max_tokens=5)
        answer = chat.chat([{"role": "user", "content": "When?"}], max_tokens=5)

    assert answer == "Nightly."  # waited past the other request's limit for its own reply


def test_a_limit_of_zero_or_less_leaves_the_servers_own_timeout() -> None:
    """KB_TRANSLATE_WAIT_SECONDS=0 must not reach the socket (a ValueError, a 500)."""
    with scripted_model_server(reply="Nightly.") as (url, _):
        chat = OpenAICompatibleChat(url, model="m", timeout=30)
        with waiting_at_most(0):
            answer = chat.chat([{"role": "user", "content": "When?"}], max_tokens=5)
        with waiting_at_most(-1):
            again = chat.chat([{"role": "user", "content": "When?"}], max_tokens=5)

    assert answer == again == "Nightly."
