"""Chat backends: llama-cpp-python in this process, or any OpenAI-compatible server.

Both take the same messages and return the reply text, so callers never know which runs. The
chat format is set explicitly (ChatML for Qwen) rather than guessed from GGUF metadata, so the
system message is known to reach the model. Both send every message's content as plain text:
no string in it can become a control token of the chat template (kb/llm/control.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypedDict

from kb.llm.cancel import (
    GenerationCancelled,
    cancelled,
    place_reporter,
    raise_if_cancelled,
    wait_limit,
)
from kb.llm.control import PlainText, generic_plain_text, vocabulary_plain_text

# How long a request waits for the in-process model while another one is generating, and how
# many may wait at once.
DEFAULT_QUEUE_TIMEOUT = 60.0
DEFAULT_MAX_WAITING = 4
WAIT_STEP_SECONDS = 0.25  # how often a waiting caller checks whether it was cancelled
BUSY_MESSAGE = "The model is busy answering other questions; try again in a minute."


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass
class Usage:
    """Token counts of one call, filled in by `stream` as it finishes."""

    prompt_tokens: int = 0
    completion_tokens: int = 0


class ChatModel(Protocol):
    name: str

    def chat(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float = 0.0
    ) -> str:
        """The model's reply to `messages`."""

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        usage: Usage | None = None,
    ) -> Generator[str, None, None]:
        """The reply piece by piece as the model produces it; `usage` is filled at the end."""

    def choose(self, messages: Sequence[Message], options: Sequence[str]) -> dict[str, float]:
        """How likely the reply starts with each of `options` (single words such as "yes" and
        "no", any case), normalised over them: one forward pass, nothing generated."""


class LlmUnavailable(RuntimeError):
    """The model cannot be reached or loaded; the message says how to fix it."""


class LlmBusy(LlmUnavailable):
    """The model's wait queue is full, or stayed blocked for the whole queue timeout."""


class LlamaCppChat:
    """A GGUF model in this process. llama.cpp contexts are not thread-safe: one call at a time."""

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int,
        n_gpu_layers: int,
        n_threads: int = 0,
        chat_format: str = "chatml",
        name: str = "",
        queue_timeout: float = DEFAULT_QUEUE_TIMEOUT,
        max_waiting: int = DEFAULT_MAX_WAITING,
        plain_text: bool = True,
    ) -> None:
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
        self._queue_timeout = queue_timeout
        self._max_waiting = max_waiting
        self._line: list[object] = []  # callers waiting for the model, first come first
        self._counter = threading.Lock()
        # n_threads None: llama-cpp-python's default, half the cores (see KB_LLM_N_THREADS).
        options = {
            "n_ctx": n_ctx,
            "n_gpu_layers": n_gpu_layers,
            "chat_format": chat_format,
            "n_threads": n_threads or None,
        }
        self._llama = _load_quietly(Llama, model_path, options)
        self._plain = vocabulary_plain_text(self._llama._model) if plain_text else PlainText()
        self._abort = _abort_when_cancelled(self._llama)

    def chat(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float = 0.0
    ) -> str:
        return "".join(self.stream(messages, max_tokens=max_tokens, temperature=temperature))

    def close(self) -> None:
        """Free the model now: at interpreter exit llama-cpp's own finaliser runs too late."""
        with self._lock:
            self._llama.close()

    @property
    def saturated(self) -> bool:
        """The wait queue is full: a new request would be turned away at once."""
        return len(self._line) >= self._max_waiting and self._lock.locked()

    def _wait_for_model(self) -> None:
        """A bounded line, first come first served: beyond `max_waiting` waiting requests, or
        after `queue_timeout`, the caller is told the model is busy instead of waiting without
        end. A caller that reports its place (the chat) waits as long as it takes and hears
        its place as it changes, unless it waits within a limit (kb.llm.cancel.waiting_at_most);
        a cancelled caller leaves the line."""
        ticket = object()
        with self._counter:
            if self.saturated:
                raise LlmBusy(BUSY_MESSAGE)
            self._line.append(ticket)
        limit = wait_limit()
        report = place_reporter() if limit is None else None
        if limit is not None:
            deadline = time.monotonic() + limit
        else:
            deadline = math.inf if report else time.monotonic() + self._queue_timeout
        told: int | None = None
        try:
            while True:
                with self._counter:
                    first = self._line[0] is ticket
                    ahead = self._line.index(ticket) + int(self._lock.locked())
                if first and self._lock.acquire(timeout=WAIT_STEP_SECONDS):
                    break
                if report and ahead != told:
                    report(ahead)
                    told = ahead
                if not first:
                    time.sleep(WAIT_STEP_SECONDS)
                raise_if_cancelled()  # a caller who left gives up their place
                if time.monotonic() >= deadline:
                    raise LlmBusy(BUSY_MESSAGE)
        finally:
            with self._counter:
                self._line.remove(ticket)
        if report and told:
            report(0)  # its turn: the model starts on its prompt

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        usage: Usage | None = None,
    ) -> Generator[str, None, None]:
        """Holds the model until the stream is exhausted or closed (a client that goes away
        closes the generator, which releases the lock). Raises GenerationCancelled, with the
        model free, within a fraction of a second of the caller's cancellation (kb.llm.cancel),
        also while it reads the prompt."""
        self._wait_for_model()
        produced = 0
        try:
            chunks: Any = self._llama.create_chat_completion(
                messages=plain_messages(messages, self._plain),
                max_tokens=max_tokens,
                temperature=temperature,
                stream=True,
            )
            with _aborts_as_cancellation():
                for chunk in chunks:
                    raise_if_cancelled()
                    piece = chunk["choices"][0]["delta"].get("content") or ""
                    if piece:
                        produced += 1
                        yield piece
        finally:
            if usage is not None:  # also when the caller stopped reading early
                # The context holds the prompt and the tokens generated so far.
                usage.completion_tokens = produced
                usage.prompt_tokens = max(int(self._llama.n_tokens) - produced, 0)
            self._lock.release()

    def choose(self, messages: Sequence[Message], options: Sequence[str]) -> dict[str, float]:
        """The first reply token's logits, read by a logits processor while one token is
        generated. The prompt goes through the same chat handler as `stream`, so a following
        `stream` whose prompt shares this one's beginning re-uses its evaluated prefix."""
        from llama_cpp import LogitsProcessorList

        seen: list[Any] = []

        def capture(_ids: Any, scores: Any) -> Any:
            if not seen:
                seen.append(scores.copy())
            return scores

        self._wait_for_model()
        try:
            with _aborts_as_cancellation():
                self._llama.create_chat_completion(
                    messages=plain_messages(messages, self._plain),
                    max_tokens=1,
                    temperature=0.0,
                    logits_processor=LogitsProcessorList([capture]),
                )
        finally:
            self._lock.release()
        logits = seen[0]
        weights = {
            option: sum(math.exp(float(logits[t]) - float(logits.max())) for t in ids)
            for option, ids in self._option_tokens(options).items()
        }
        return normalised(weights)

    def _option_tokens(self, options: Sequence[str]) -> dict[str, set[int]]:
        """Each option's first token in the spellings a reply starts with: yes, Yes, YES."""
        found: dict[str, set[int]] = {}
        for option in options:
            spellings = {option.lower(), option.capitalize(), option.upper()}
            found[option] = {
                self._llama.tokenize(s.encode(), add_bos=False, special=False)[0] for s in spellings
            }
        return found


def _abort_when_cancelled(llama: Any) -> Any:
    """llama.cpp asks this between the steps of every evaluation, prompt included: a cancelled
    caller stops the model within a step (milliseconds) instead of after the whole prompt. It
    runs in the thread that called the model, so it sees that thread's cancellation. The
    returned callback must stay referenced as long as the model lives."""
    import llama_cpp

    callback = llama_cpp.ggml_abort_callback(lambda _data: cancelled())
    llama_cpp.llama_set_abort_callback(llama._ctx.ctx, callback, None)
    return callback


@contextlib.contextmanager
def _aborts_as_cancellation() -> Iterator[None]:
    """An evaluation aborted for a cancelled caller surfaces from llama-cpp-python as a failed
    decode (RuntimeError "llama_decode returned 2"); say what it was."""
    try:
        yield
    except RuntimeError as exc:
        if cancelled():
            raise GenerationCancelled() from exc
        raise


def normalised(weights: dict[str, float]) -> dict[str, float]:
    """Shares of the total; all equal when nothing has any weight."""
    total = sum(weights.values())
    if total <= 0:
        return {option: 1 / len(weights) for option in weights}
    return {option: weight / total for option, weight in weights.items()}


def plain_messages(messages: Sequence[Message], plain: PlainText) -> list[Message]:
    """The messages as the template may render them: contents never hold a control token.
    Our own system prompts hold none either, so neutralising every role costs nothing and
    leaves no caller to forget it."""
    return [{"role": m["role"], "content": plain(m["content"])} for m in messages]


# Python's streams are process-wide: two models loading at once (the answering and the
# translating one) would restore each other's capture and leave stdout swallowed.
_LOADING = threading.Lock()


def _load_quietly(llama: Any, path: Path, options: dict[str, Any]) -> Any:
    """llama-cpp-python's `verbose=False` swaps file descriptors and crashes this build
    (SIGSEGV); load verbosely with Python's streams captured, then silence its logger. A file
    llama.cpp cannot read is LlmUnavailable, as a missing one is."""
    from llama_cpp import _logger

    with (
        _LOADING,
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        try:
            model = llama(model_path=str(path), verbose=True, **options)
        except ValueError as exc:  # llama-cpp-python: "Failed to load model from file"
            raise LlmUnavailable(f"{path} could not be loaded ({exc}): run `make model`.") from exc
    _logger.set_verbose(False)
    model.verbose = False
    return model


class OpenAICompatibleChat:
    """`POST {base_url}/chat/completions`: llama-cpp-python's server, vLLM, llama.cpp server."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str = "",
        timeout: float = 120.0,
        plain_text: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = model
        self.timeout = timeout
        self._headers = {"Content-Type": "application/json"}
        if api_key:  # never in a message or log line: only this header carries it
            self._headers["Authorization"] = f"Bearer {api_key}"
        # The server's vocabulary is unknown here: the common template families' tokens.
        self._plain = generic_plain_text() if plain_text else PlainText()

    def chat(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float = 0.0
    ) -> str:
        body = {
            "model": self.name,
            "messages": plain_messages(messages, self._plain),
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        try:
            with self._post(body) as response:
                reply = json.load(response)
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
            raise self._unavailable(exc) from exc
        return str(reply["choices"][0]["message"]["content"] or "")

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        usage: Usage | None = None,
    ) -> Generator[str, None, None]:
        """Server-sent events, one `data:` line per delta; usage arrives in the last one when
        the server honours `stream_options.include_usage`."""
        body = {
            "model": self.name,
            "messages": plain_messages(messages, self._plain),
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        try:
            with self._post(body) as response:
                for line in response:
                    raise_if_cancelled()  # leaving the block closes the connection: it stops
                    event = _sse_data(line)
                    if event is None:
                        continue
                    if event.get("usage") and usage is not None:
                        usage.prompt_tokens = int(event["usage"].get("prompt_tokens") or 0)
                        usage.completion_tokens = int(event["usage"].get("completion_tokens") or 0)
                    for choice in event.get("choices") or []:
                        piece = (choice.get("delta") or {}).get("content") or ""
                        if piece:
                            yield piece
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
            raise self._unavailable(exc) from exc

    def choose(self, messages: Sequence[Message], options: Sequence[str]) -> dict[str, float]:
        """From the first token's top log-probabilities (llama.cpp's server and vLLM return
        them); a server that returns none is read by the reply's first word."""
        body = {
            "model": self.name,
            "messages": plain_messages(messages, self._plain),
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": True,
            "top_logprobs": 20,
        }
        try:
            with self._post(body) as response:
                choice = json.load(response)["choices"][0]
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
            raise self._unavailable(exc) from exc
        weights = dict.fromkeys(options, 0.0)
        spelled = {option.lower(): option for option in options}
        content = (choice.get("logprobs") or {}).get("content") or []
        alternatives = content[0].get("top_logprobs", []) if content else []
        for entry in alternatives:
            option = spelled.get(str(entry.get("token", "")).strip().lower())
            if option is not None:
                weights[option] += math.exp(float(entry["logprob"]))
        if not any(weights.values()):
            reply = str((choice.get("message") or {}).get("content") or "").strip().lower()
            weights = {o: float(reply.startswith(o.lower())) for o in options}
        return normalised(weights)

    def _post(self, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(  # noqa: S310 - the operator's configured server
            f"{self.base_url}/chat/completions",
            data=json.dumps(body).encode(),
            headers=self._headers,
        )
        limit = wait_limit()  # a side step waits for the reply no longer than its limit
        timeout = self.timeout if limit is None or limit <= 0 else min(self.timeout, limit)
        try:
            return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310
        except urllib.error.HTTPError as exc:
            if exc.code in (429, 503):
                raise LlmBusy(f"The model server at {self.base_url} is busy ({exc.code}).") from exc
            if exc.code in (401, 403):
                raise LlmUnavailable(
                    f"The model server at {self.base_url} refused the request ({exc.code}): "
                    "set KB_LLM_API_KEY to the key it expects."
                ) from exc
            raise

    def _unavailable(self, exc: Exception) -> LlmUnavailable:
        """A reply that did not come within a side step's wait limit means a busy server, as
        a full queue does for the local model; any other failure, an unavailable one."""
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if wait_limit() is not None and isinstance(reason, TimeoutError):
            return LlmBusy(f"The model server at {self.base_url} did not reply in time.")
        return LlmUnavailable(f"The model server at {self.base_url} did not answer: {exc}")


def _sse_data(line: bytes) -> dict[str, Any] | None:
    """The JSON of one `data:` line; None for blank lines, comments and the final [DONE]."""
    text = line.decode("utf-8").strip()
    if not text.startswith("data:"):
        return None
    payload = text[len("data:") :].strip()
    if not payload or payload == "[DONE]":
        return None
    event: dict[str, Any] = json.loads(payload)
    return event
