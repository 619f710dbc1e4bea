"""The real small GGUF model (assembled from PyPI by `make model-test`) through llama-cpp."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kb.llm.cancel import reporting_place
from kb.llm.chat import LlamaCppChat, LlmUnavailable, Message, OpenAICompatibleChat
from kb.text.llm_entities import LlmEntityExtractor
from kb.text.script import LATIN_SCRIPT
from retrieval.prompting import load_template
from retrieval.translation import QuestionTranslator
from tests.support.llm import SMALL_MODEL, small_model_path

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.llm]
# Callers of one access scope share remembered translations (retrieval.translation.Sharing).
SCOPE = ((1,), ("group:1",))


@pytest.fixture(scope="module")
def model() -> Iterator[LlamaCppChat]:
    yield LlamaCppChat(small_model_path(), n_ctx=2048, n_gpu_layers=0, name=SMALL_MODEL.name)


def test_the_system_message_reaches_the_model(model: LlamaCppChat) -> None:
    """Some chat templates drop system messages; a fact only the system message holds must
    come back, and must not without it (the control)."""
    question: Message = {
        "role": "user",
        "content": "What is the secret code word? Reply with the code word only.",
    }
    system: Message = {"role": "system", "content": "The secret code word is MARMALADE-7."}

    with_system = model.chat([system, question], max_tokens=12)
    without = model.chat([question], max_tokens=12)

    assert "MARMALADE-7" in with_system
    assert "MARMALADE" not in without


def test_the_model_extracts_entities_that_occur_in_the_passage(model: LlamaCppChat) -> None:
    passage = (
        "To back up PostgreSQL on Debian, run pg_dump every night. "
        "The WAL archive keeps every change since the last base backup."
    )

    found = LlmEntityExtractor(model).extract(passage)

    keys = {e.key for e in found.entities}
    assert keys & {"postgresql", "pg_dump", "debian", "wal"}
    assert all(e.name.casefold() in passage.casefold() for e in found.entities)


def test_generation_threads_follow_the_setting(model: LlamaCppChat) -> None:
    """0 keeps llama-cpp-python's default (half the cores): all of them stall generation as
    soon as anything else runs on the machine."""
    two = LlamaCppChat(small_model_path(), n_ctx=256, n_gpu_layers=0, n_threads=2)
    try:
        assert model._llama.n_threads == max((os.cpu_count() or 2) // 2, 1)
        assert two._llama.n_threads == 2
    finally:
        two.close()


def test_an_unreachable_model_server_is_reported_clearly() -> None:
    chat = OpenAICompatibleChat("http://127.0.0.1:9/v1", model="m", timeout=2)

    with pytest.raises(LlmUnavailable, match="did not answer"):
        chat.chat([{"role": "user", "content": "hi"}], max_tokens=1)


def test_the_pipeline_can_use_the_model_for_the_graph(
    model: LlamaCppChat,
    db: None,
    settings,
    tmp_path: Path,
) -> None:
    from ingestion.pipeline import ingest_document
    from kb.access import CONSOLE
    from kb.llm.factory import forget_chat_model
    from kb.services.documents import document_add
    from kb.stores import factory
    from kb.uploads import IncomingFile
    from tests.support import samples
    from tests.support.factories import CollectionFactory

    settings.KB_DATA_DIR = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.KB_GRAPH_EXTRACTOR = "llm"
    settings.KB_LLM_MODEL_PATH = str(small_model_path())
    factory.close_stores()
    forget_chat_model()
    try:
        path = samples.text(tmp_path / "backup.txt", samples.BACKUP_TEXT)
        document, _ = document_add(
            collection=CollectionFactory.create(),
            incoming=IncomingFile("backup.txt", path),
            uploader=CONSOLE,
        )

        assert ingest_document(document_id=document.pk, version=document.version) == "indexed"
        assert factory.graph_store().count_entities() > 0
    finally:
        forget_chat_model()
        factory.close_stores()


def test_choose_reads_the_models_yes_and_no_from_one_forward_pass(model: LlamaCppChat) -> None:
    """The answerability check's primitive: probabilities over the options, summing to one,
    and leaning the way the model plainly would."""

    def asked(fact: str) -> list[Message]:
        return [
            {"role": "system", "content": "Reply with one English word: yes or no."},
            {"role": "user", "content": f"{fact}\nIs the sky blue on a clear day?"},
        ]

    yes = model.choose(asked("The sky is blue on a clear day."), ("yes", "no"))
    no = model.choose(asked("The sky is green on a clear day."), ("yes", "no"))

    assert set(yes) == {"yes", "no"} and abs(sum(yes.values()) - 1) < 1e-6
    assert yes["yes"] > 0.5
    assert no["yes"] < yes["yes"]


def test_a_question_after_another_reads_only_what_follows_the_shared_system_prompt(
    model: LlamaCppChat,
) -> None:
    """The answer prompt starts with the same system instructions every time: llama-cpp keeps
    the evaluated tokens and re-uses the longest common prefix, so the next question's prompt
    is evaluated from where it differs (its passages and question), not from the start."""
    system: Message = {"role": "system", "content": load_template("answer-v1").system}
    first: Message = {"role": "user", "content": "Backups are kept for 35 days. How long?"}
    second: Message = {"role": "user", "content": "Lunch is at noon. When is lunch?"}
    list(model.stream([system, first], max_tokens=4))
    llama = model._llama  # the llama-cpp object: count what it evaluates
    evaluated: list[int] = []
    plain_eval = llama.eval

    def counting_eval(tokens: Any) -> None:
        evaluated.append(len(tokens))
        plain_eval(tokens)

    llama.eval = counting_eval
    try:
        list(model.stream([system, second], max_tokens=1))
    finally:
        llama.eval = plain_eval

    system_tokens = len(llama.tokenize(system["content"].encode(), add_bos=False))
    prompt_tokens = int(llama.n_tokens)  # the second prompt and the one token generated
    assert system_tokens > 100  # precondition: a prefix worth keeping
    assert evaluated and sum(evaluated) <= prompt_tokens - system_tokens + 1


def test_a_translation_waits_only_its_limit_for_a_busy_model_and_never_hears_a_place(
    model: LlamaCppChat,
) -> None:
    """While an answer holds the model, a question's translation (retrieval.translation) gives
    up after its short wait instead of queueing for the whole answer, even inside a chat
    request that reports its place: it is searched as asked, and waits in line only once."""
    places: list[int] = []
    answering = model.stream([{"role": "user", "content": "Count to fifty."}], max_tokens=48)
    next(answering)  # the model is held until this answer is closed
    translator = QuestionTranslator(lambda: model, wait_seconds=0.5)
    try:
        with reporting_place(places.append):
            started = time.monotonic()
            translated = translator.translate("备份保留多久？", LATIN_SCRIPT, shared_by=SCOPE)
            waited = time.monotonic() - started
    finally:
        answering.close()

    assert translated is None  # not written now: asked again next time
    assert 0.5 <= waited < 2.0
    assert places == []
    assert translator.translate(
        "备份保留多久？", LATIN_SCRIPT, shared_by=SCOPE
    )  # the free model translates it
