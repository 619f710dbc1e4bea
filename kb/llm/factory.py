"""The configured chat model, opened once per process (loading a GGUF takes seconds)."""

from __future__ import annotations

import threading
from pathlib import Path

from django.conf import settings

from kb.llm.chat import ChatModel, LlamaCppChat, OpenAICompatibleChat

_lock = threading.Lock()
_model: ChatModel | None = None


def chat_model() -> ChatModel | None:
    """KB_LLM_BASE_URL wins over KB_LLM_MODEL_PATH; with neither, there is no model."""
    global _model
    with _lock:
        if _model is None:
            _model = _open()
        return _model


def forget_chat_model() -> None:
    """Drop the cached model (tests, or after changing settings)."""
    global _model
    with _lock:
        _model = None


def _open() -> ChatModel | None:
    if settings.KB_LLM_BASE_URL:
        return OpenAICompatibleChat(settings.KB_LLM_BASE_URL, model=settings.KB_LLM_MODEL_NAME)
    if settings.KB_LLM_MODEL_PATH:
        return LlamaCppChat(
            Path(settings.KB_LLM_MODEL_PATH),
            n_ctx=settings.KB_LLM_N_CTX,
            n_gpu_layers=settings.KB_LLM_N_GPU_LAYERS,
            name=settings.KB_LLM_MODEL_NAME,
        )
    return None
