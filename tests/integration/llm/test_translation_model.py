"""KB_TRANSLATE_MODEL_NAME: questions translated by a model of their own, in this process, with
the real small GGUF (`make model-test`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kb.llm import factory
from kb.llm.chat import LlamaCppChat, LlmUnavailable
from kb.llm.factory import chat_model, forget_chat_model, translation_model
from kb.llm.gguf import MODELS, model_path
from kb.text.script import LATIN_SCRIPT, script_of
from retrieval.translation import QuestionTranslator
from tests.support.llm import SMALL_MODEL_NAME, small_model_path

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.llm]
SCOPE = ((1,), ("group:1",))  # who shares a remembered translation (retrieval.translation)
QUESTION = "备份保留多久？"


@pytest.fixture
def answering_model(settings) -> Iterator[None]:
    """The answering model is the small GGUF; both models are closed after the test."""
    settings.KB_LLM_MODEL_PATH = str(small_model_path())
    settings.KB_TRANSLATE_N_THREADS = 1
    forget_chat_model()
    yield
    forget_chat_model()


def test_a_translation_model_of_its_own_translates_while_an_answer_holds_the_other(
    settings, answering_model: None
) -> None:
    """On a CPU an answer holds the answering model for tens of seconds; with a model of its
    own a question's translation is written meanwhile instead of giving up after its wait."""
    settings.KB_TRANSLATE_MODEL_NAME = SMALL_MODEL_NAME
    answering = chat_model().stream([{"role": "user", "content": "Count to fifty."}], max_tokens=48)
    next(answering)  # the answering model is held until this answer is closed
    try:
        translated = QuestionTranslator(translation_model, wait_seconds=0.5).translate(
            QUESTION, LATIN_SCRIPT, shared_by=SCOPE
        )
    finally:
        answering.close()

    own = translation_model()
    assert own is not chat_model()
    assert isinstance(own, LlamaCppChat)
    assert own._llama.n_threads == 1  # KB_TRANSLATE_N_THREADS
    assert translated and script_of(translated) == LATIN_SCRIPT


def test_without_one_the_answering_model_translates_and_a_held_one_is_not_waited_for(
    settings, answering_model: None
) -> None:
    """The control: the same question, with the setting empty, waits its half second for the
    busy answering model and is searched as asked (None)."""
    settings.KB_TRANSLATE_MODEL_NAME = ""
    answering = chat_model().stream([{"role": "user", "content": "Count to fifty."}], max_tokens=48)
    next(answering)
    try:
        translated = QuestionTranslator(translation_model, wait_seconds=0.5).translate(
            QUESTION, LATIN_SCRIPT, shared_by=SCOPE
        )
    finally:
        answering.close()

    assert translation_model() is chat_model()
    assert translated is None


def test_a_missing_translation_model_leaves_the_question_as_asked(
    settings, answering_model: None, tmp_path
) -> None:
    """Configured but not assembled (`make model` not run): the question is searched as
    asked, as when a model server is down, and the answering model is not asked instead."""
    settings.KB_TRANSLATE_MODEL_NAME = SMALL_MODEL_NAME
    settings.KB_MODELS_DIR = str(tmp_path)  # nothing assembled here

    with pytest.raises(LlmUnavailable, match=r"No translating model at .*run `make model`"):
        translation_model()
    assert (
        QuestionTranslator(translation_model).translate(QUESTION, LATIN_SCRIPT, shared_by=SCOPE)
        is None
    )
    assert factory._model is None  # the answering model was not opened to translate instead


def test_a_damaged_translation_model_leaves_the_question_as_asked(
    settings, answering_model: None, tmp_path
) -> None:
    """A file llama.cpp cannot read (an interrupted copy) is unavailable, as a missing one is:
    the question is searched as asked, not answered with a server error."""
    settings.KB_TRANSLATE_MODEL_NAME = SMALL_MODEL_NAME
    settings.KB_MODELS_DIR = str(tmp_path)
    model_path(MODELS[SMALL_MODEL_NAME], tmp_path).write_bytes(b"GGUF" + b"\0" * 64)

    with pytest.raises(LlmUnavailable, match="could not be loaded"):
        translation_model()
    assert (
        QuestionTranslator(translation_model).translate(QUESTION, LATIN_SCRIPT, shared_by=SCOPE)
        is None
    )
