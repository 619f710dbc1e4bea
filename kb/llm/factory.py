"""The configured chat model, opened once per process (loading a GGUF takes seconds)."""

from __future__ import annotations

import atexit
import threading
from pathlib import Path

from django.conf import settings

from kb.llm.chat import ChatModel, LlamaCppChat, LlmUnavailable, OpenAICompatibleChat
from kb.llm.gguf import MODELS, model_path

_lock = threading.Lock()
_model: ChatModel | None = None


def chat_model() -> ChatModel:
    """KB_LLM_BASE_URL wins over the in-process GGUF; raises LlmUnavailable with a fix when
    neither can be had."""
    global _model
    with _lock:
        if _model is None:
            _model = _open()
        return _model


def forget_chat_model() -> None:
    """Close and drop the cached model (tests, after changing settings, at exit)."""
    global _model
    with _lock:
        model, _model = _model, None
    if isinstance(model, LlamaCppChat):
        model.close()


atexit.register(forget_chat_model)


def gguf_path() -> Path:
    """KB_LLM_MODEL_PATH, or where `manage.py kb_model` assembles KB_LLM_MODEL_NAME."""
    if settings.KB_LLM_MODEL_PATH:
        return Path(settings.KB_LLM_MODEL_PATH)
    spec = MODELS.get(settings.KB_LLM_MODEL_NAME)
    if spec is None:
        raise LlmUnavailable(
            f"KB_LLM_MODEL_NAME={settings.KB_LLM_MODEL_NAME!r} is not a model kb_model can "
            f"assemble ({', '.join(MODELS)}): set KB_LLM_MODEL_PATH or KB_LLM_BASE_URL."
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


def _open() -> ChatModel:
    if settings.KB_LLM_BASE_URL:
        return OpenAICompatibleChat(
            settings.KB_LLM_BASE_URL,
            model=settings.KB_LLM_MODEL_NAME,
            api_key=settings.KB_LLM_API_KEY,
            plain_text=settings.KB_INJECTION_DEFENCES,
        )
    return LlamaCppChat(
        gguf_path(),
        n_ctx=settings.KB_LLM_N_CTX,
        n_gpu_layers=settings.KB_LLM_N_GPU_LAYERS,
        n_threads=settings.KB_LLM_N_THREADS,
        name=settings.KB_LLM_MODEL_NAME,
        queue_timeout=settings.KB_LLM_QUEUE_TIMEOUT,
        max_waiting=settings.KB_LLM_MAX_WAITING,
        plain_text=settings.KB_INJECTION_DEFENCES,
    )
