"""Chat backends: llama-cpp-python in this process, or any OpenAI-compatible server.

Both take the same messages and return the reply text, so callers never know which runs. The
chat format is set explicitly (ChatML for Qwen) rather than guessed from GGUF metadata, so the
system message is known to reach the model.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TypedDict


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


class ChatModel(Protocol):
    name: str

    def chat(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float = 0.0
    ) -> str:
        """The model's reply to `messages`."""


class LlmUnavailable(RuntimeError):
    """The model cannot be reached or loaded; the message says how to fix it."""


class LlamaCppChat:
    """A GGUF model in this process. llama.cpp contexts are not thread-safe: one call at a time."""

    def __init__(self, model_path: Path, *, n_ctx: int, n_gpu_layers: int,
                 chat_format: str = "chatml", name: str = "") -> None:  # fmt: skip
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LlmUnavailable("llama-cpp-python is not installed: run `make install`.") from exc
        if not model_path.is_file():
            raise LlmUnavailable(
                f"No model at {model_path}: run `make model` or set KB_LLM_MODEL_PATH."
            )
        self.name = name or model_path.stem
        self._lock = threading.Lock()
        self._llama = _load_quietly(Llama, model_path, n_ctx, n_gpu_layers, chat_format)

    def chat(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float = 0.0
    ) -> str:
        with self._lock:
            reply: Any = self._llama.create_chat_completion(
                messages=list(messages),
                max_tokens=max_tokens,
                temperature=temperature,
            )
        return str(reply["choices"][0]["message"]["content"] or "")


def _load_quietly(llama: Any, path: Path, n_ctx: int, n_gpu_layers: int, chat_format: str) -> Any:
    """llama-cpp-python's `verbose=False` swaps file descriptors and crashes this build
    (SIGSEGV); load verbosely with Python's streams captured, then silence its logger."""
    from llama_cpp import _logger

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        model = llama(model_path=str(path), n_ctx=n_ctx, n_gpu_layers=n_gpu_layers,
                      chat_format=chat_format, verbose=True)  # fmt: skip
    _logger.set_verbose(False)
    model.verbose = False
    return model


class OpenAICompatibleChat:
    """`POST {base_url}/chat/completions`: llama-cpp-python's server, vLLM, llama.cpp server."""

    def __init__(self, base_url: str, *, model: str, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = model
        self.timeout = timeout

    def chat(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float = 0.0
    ) -> str:
        body = {"model": self.name, "messages": list(messages), "max_tokens": max_tokens,
                "temperature": temperature}  # fmt: skip
        request = urllib.request.Request(  # noqa: S310 - the operator's configured server
            f"{self.base_url}/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                reply = json.load(response)
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
            raise LlmUnavailable(
                f"The model server at {self.base_url} did not answer: {exc}"
            ) from exc
        return str(reply["choices"][0]["message"]["content"] or "")
