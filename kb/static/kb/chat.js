// Chat page: sends the question and renders the answer as it streams.
//
// The hook for the answering step: when the server renders the ask form with a non-empty
// `data-stream-url` (the view's `chat_stream_url`), submitting POSTs the form (question, the
// ticked `collections`, the CSRF token, `stream=true`) to that URL and reads the response as
// Server-Sent Events from the fetch body. The events are those of `POST /api/v1/query` with
// `stream: true` (kb/api/answers.py), data always JSON:
//   token      {"text": "..."}                          appended to the answer as it arrives
//   citations  {"citations": [{"n", "document_id", "title", "page", ...}], "refused": bool}
//              refused: the "not found in the knowledge base" state; otherwise numbered sources
//   done       {"query_id", "answer", "refused"}        query_id is kept on the turn for feedback
//   error      {"error": {"code": "model_busy" | "unavailable" | ..., "message": "..."}}
// An HTTP error before the stream starts (429 rate limited, 503 model busy, ...) is shown
// plainly as well.
(function () {
  "use strict";

  // One SSE frame parser for the whole page: returns complete events and the unparsed rest.
  function parse(buffer) {
    const events = [];
    const torn = buffer.endsWith("\r");  // a CRLF split between two chunks: wait for the LF
    const text = torn ? buffer.slice(0, -1) : buffer;
    const blocks = text.replace(/\r\n?/g, "\n").split("\n\n");
    const rest = blocks.pop() + (torn ? "\r" : "");
    for (const block of blocks) {
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
      }
      if (data.length) events.push({ event: event, data: data.join("\n") });
    }
    return { events: events, rest: rest };
  }

  const HTTP_ERRORS = {
    429: "Too many questions in a short time. Wait a moment and ask again.",
    503: "The model is busy answering others. Try again in a moment.",
  };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function startTurn(conversation, question) {
    conversation.querySelector("[data-empty-state]")?.remove();
    const turn = el("article", "turn");
    turn.append(el("p", "turn-question", question));
    const answer = el("div", "turn-answer");
    const text = el("p", "answer-text");
    answer.append(text);
    turn.append(answer);
    conversation.append(turn);
    turn.scrollIntoView({ block: "end" });
    return { turn: turn, answer: answer, text: text };
  }

  function notice(answer, kind, message) {
    answer.append(el("p", "notice notice-" + kind, message));
  }

  const NOT_FOUND = "Not found in the knowledge base: no passage you may read answers this.";

  function citations(answer, payload) {
    if (payload.refused) {
      notice(answer, "empty", NOT_FOUND);
      return;
    }
    const list = el("ol", "citations");
    list.setAttribute("aria-label", "Sources");
    for (const item of payload.citations) {
      const entry = el("li");
      entry.value = item.n;
      const link = el("a", "", item.title + (item.page ? ", page " + item.page : ""));
      link.href = item.url || "/documents/" + item.document_id + "/download";
      entry.append(link);
      list.append(entry);
    }
    answer.append(list);
  }

  function render(parts, name, payload) {
    if (name === "token") parts.text.append(payload.text);
    else if (name === "citations") citations(parts.answer, payload);
    else if (name === "done") parts.turn.dataset.queryId = String(payload.query_id);
    else if (name === "error") notice(parts.answer, "error", payload.error.message);
  }

  async function send(form) {
    const conversation = document.getElementById("conversation");
    const question = form.elements.question.value.trim();
    if (!question) return;
    const parts = startTurn(conversation, question);
    const body = new FormData(form);
    body.set("stream", "true");
    conversation.setAttribute("aria-busy", "true");
    form.elements.question.value = "";
    try {
      const response = await fetch(form.dataset.streamUrl, {
        method: "POST",
        body: body,
        headers: { Accept: "text/event-stream", "X-CSRFToken": body.get("csrfmiddlewaretoken") },
        credentials: "same-origin",
      });
      if (!response.ok || !response.body) {
        const fallback = "The answer failed (HTTP " + response.status + "). Try again.";
        notice(parts.answer, "error", HTTP_ERRORS[response.status] || fallback);
        return;
      }
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const parsed = parse(buffer + value);
        buffer = parsed.rest;
        for (const event of parsed.events) render(parts, event.event, JSON.parse(event.data));
      }
    } catch (error) {
      notice(parts.answer, "error", "The connection was lost before the answer finished.");
    } finally {
      conversation.setAttribute("aria-busy", "false");
    }
  }

  window.Quarry = Object.assign(window.Quarry || {}, {
    sse: { parse: parse },
    chat: { send: send },
  });

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("ask-form");
    if (!form || !form.dataset.streamUrl) return;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send(form);
    });
    form.elements.question.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
  });
})();
