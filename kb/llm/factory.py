"""The configured chat models, each opened once per process (loading a GGUF takes seconds):
the answering model, and the translating model when KB_TRANSLATE_MODEL_NAME names its own."""

from __future__ import annotations

import atexit
import threading
from pathlib import Path

from django.conf import settings

from kb.llm.chat import ChatModel, LlamaCppChat, LlmUnavailable, OpenAICompatibleChat
from kb.llm.gguf import MODELS, model_path

_lock = threading.Lock()
_model: ChatModel | None = None
_translator_lock = threading.Lock()  # its own: loading one model does not hold up the other
_translator: LlamaCppChat | None = None


def chat_model() -> ChatModel:
    """KB_LLM_BASE_URL wins over the in-process GGUF; raises LlmUnavailable with a fix when
    neither can be had."""
    global _model
    with _lock:
        if _model is None:
            _model = _open()
        return _model


def translation_model() -> ChatModel:
    """The model that translates questions (retrieval.translation): KB_TRANSLATE_MODEL_NAME's
    GGUF, so a translation never waits behind an answer (tens of seconds on a CPU); else the
    answering model. Raises LlmUnavailable as chat_model does."""
    global _translator
    name = settings.KB_TRANSLATE_MODEL_NAME
    if not name:
        return chat_model()
    with _translator_lock:
        if _translator is None:
            path = assembled_path(name, setting="KB_TRANSLATE_MODEL_NAME")
            if not path.is_file():  # LlamaCppChat's own message is the answering model's
                raise LlmUnavailable(
                    f"No translating model at {path}: run `make model`, or empty "
                    "KB_TRANSLATE_MODEL_NAME for the answering model to translate."
                )
            _translator = _open_gguf(path, name=name, n_threads=settings.KB_TRANSLATE_N_THREADS)
        return _translator


def forget_chat_model() -> None:
    """Close and drop the cached models (tests, after changing settings, at exit)."""
    global _model, _translator
    with _lock:
        model, _model = _model, None
    with _translator_lock:
        translator, _translator = _translator, None
    for opened in (model, translator):
        if isinstance(opened, LlamaCppChat):
            opened.close()


atexit.register(forget_chat_model)


def gguf_path() -> Path:
    """KB_LLM_MODEL_PATH, or where `manage.py kb_model` assembles KB_LLM_MODEL_NAME."""
    if settings.KB_LLM_MODEL_PATH:
        return Path(settings.KB_LLM_MODEL_PATH)
    return assembled_path(
        settings.KB_LLM_MODEL_NAME,
        setting="KB_LLM_MODEL_NAME",
        otherwise="set KB_LLM_MODEL_PATH or KB_LLM_BASE_URL",
    )


def assembled_path(name: str, *, setting: str, otherwise: str = "leave it empty") -> Path:
    """Where `manage.py kb_model` assembles model `name` (the value of `setting`)."""
    spec = MODELS.get(name)
    if spec is None:
        raise LlmUnavailable(
            f"{setting}={name!r} is not a model kb_model can assemble ({', '.join(MODELS)}): "
            f"{otherwise}."
        )
    return model_path(spec, Path(settings.KB_MODELS_DIR))


def model_saturated() -> bool:
    """True when the open in-process model would turn a new request away at once (checked
    before a streamed answer starts, so the caller gets a 429 rather than a broken stream)."""
    with _lock:
        model = _model
    return isinstance(model, LlamaCppChat) and model.saturated


def describe_model() -> str:
    """One line for start-up logs: which model answers, and whether it can."""
    if settings.KB_LLM_BASE_URL:
        return f"{settings.KB_LLM_MODEL_NAME} at {settings.KB_LLM_BASE_URL}"
    try:
        path = gguf_path()
    except LlmUnavailable as exc:
        return str(exc)
    if not path.is_file():
        return f"{path} is missing: run `make model` (questions get 503 until then)"
    return str(path)


def describe_translation_model() -> str:
    """One line for start-up logs: which model translates questions."""
    if not settings.KB_TRANSLATE_MODEL_NAME:
        return "the answering model"
    try:
        path = assembled_path(settings.KB_TRANSLATE_MODEL_NAME, setting="KB_TRANSLATE_MODEL_NAME")
    except LlmUnavailable as exc:
        return str(exc)
    if not path.is_file():
        return f"{path} is missing: run `make model` (questions are searched untranslated)"
    return str(path)


def _open() -> ChatModel:
    if settings.KB_LLM_BASE_URL:
        return OpenAICompatibleChat(
            settings.KB_LLM_BASE_URL,
            model=settings.KB_LLM_MODEL_NAME,
            api_key=settings.KB_LLM_API_KEY,
            plain_text=settings.KB_INJECTION_DEFENCES,
        )
    return _open_gguf(
        gguf_path(), name=settings.KB_LLM_MODEL_NAME, n_threads=settings.KB_LLM_N_THREADS
    )


def _open_gguf(path: Path, *, name: str, n_threads: int) -> LlamaCppChat:
    return LlamaCppChat(
        path,
        n_ctx=settings.KB_LLM_N_CTX,
        n_gpu_layers=settings.KB_LLM_N_GPU_LAYERS,
        n_threads=n_threads,
        name=name,
        queue_timeout=settings.KB_LLM_QUEUE_TIMEOUT,
        max_waiting=settings.KB_LLM_MAX_WAITING,
        plain_text=settings.KB_INJECTION_DEFENCES,
    )
