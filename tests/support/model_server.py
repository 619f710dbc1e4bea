"""A scripted OpenAI-compatible model server on loopback: what the answer path does with a
given reply must not depend on a model choosing to write it, so the reply is set by the test.

Streamed requests get `reply` word by word; a one-token request with `logprobs` (the
answerability check, OpenAICompatibleChat.choose) gets `p_yes` as top log-probabilities of
"Yes" and "No", as llama.cpp's server returns them; other requests get `reply` whole. With
`replies` set, the streamed and whole requests take its items in turn before `reply`. With
`released` set to a threading.Event, every request waits for it (at most HOLD_SECONDS) before
it is answered: a model still reading its prompt, to see what a caller gets meanwhile. With
`api_key` set, a request without `Authorization: Bearer <api_key>` gets 401, as from a server
that requires a key. With `status_code` set to 503 (or 429), every request gets that status: a
model server that is busy. With `together` set to a threading.Barrier of N parties, every request
waits there until N requests are in the server at once (llama.cpp's parallel slots): requests
sent one after another never get that far, and each gets 503 when the barrier's timeout ends the
wait. `most_at_once` is the most requests the server held at the same time.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOLD_SECONDS = 30


class ScriptedModel(BaseHTTPRequestHandler):
    reply = ""
    replies: list[str] = []
    p_yes = 1.0
    bodies: list[dict[str, Any]] = []
    released: threading.Event | None = None
    api_key = ""
    status_code = 200
    together: threading.Barrier | None = None
    at_once = 0
    most_at_once = 0
    counting = threading.Lock()

    def do_POST(self) -> None:
        if self.api_key and self.headers.get("Authorization") != f"Bearer {self.api_key}":
            self.send_error(401, "Invalid API key")
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.bodies.append(body)
        with ScriptedModel.counting:
            ScriptedModel.at_once += 1
            ScriptedModel.most_at_once = max(ScriptedModel.most_at_once, ScriptedModel.at_once)
        try:
            self._answer(body)
        finally:
            with ScriptedModel.counting:
                ScriptedModel.at_once -= 1

    def _answer(self, body: dict[str, Any]) -> None:
        if self.together is not None:
            try:
                self.together.wait()
            except threading.BrokenBarrierError:
                self._send("application/json", b'{"error": "alone"}', status=503)
                return
        if self.released is not None:
            self.released.wait(HOLD_SECONDS)
        if self.status_code != 200:
            self._send("application/json", b'{"error": "busy"}', status=self.status_code)
        elif body.get("stream"):
            words = [w + " " for w in self._next_reply().split(" ")]
            events = [{"choices": [{"delta": {"content": w}}]} for w in words]
            lines = [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]
            self._send("text/event-stream", "".join(lines).encode())
        elif body.get("logprobs"):
            self._send("application/json", json.dumps(self._choice()).encode())
        else:
            reply = {"choices": [{"message": {"content": self._next_reply()}}]}
            self._send("application/json", json.dumps(reply).encode())

    def _next_reply(self) -> str:
        with ScriptedModel.counting:
            return ScriptedModel.replies.pop(0) if ScriptedModel.replies else self.reply

    def _choice(self) -> dict[str, Any]:
        yes = min(max(self.p_yes, 1e-6), 1 - 1e-6)
        top: list[dict[str, Any]] = [
            {"token": "Yes", "logprob": math.log(yes)},
            {"token": "No", "logprob": math.log(1 - yes)},
        ]
        first = top[0] if yes >= 0.5 else top[1]
        return {
            "choices": [
                {
                    "message": {"content": first["token"]},
                    "logprobs": {"content": [{**first, "top_logprobs": top}]},
                }
            ]
        }

    def _send(self, kind: str, data: bytes, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def scripted_model_server(reply: str = "") -> Iterator[tuple[str, type[ScriptedModel]]]:
    """The server's base URL (…/v1) and its handler class, whose attributes script it."""
    ScriptedModel.reply, ScriptedModel.p_yes, ScriptedModel.bodies = reply, 1.0, []
    ScriptedModel.replies = []
    ScriptedModel.released, ScriptedModel.api_key = None, ""
    ScriptedModel.status_code, ScriptedModel.together = 200, None
    ScriptedModel.at_once = ScriptedModel.most_at_once = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedModel)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", ScriptedModel
    finally:
        httpd.shutdown()
        httpd.server_close()
