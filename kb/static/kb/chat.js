// Chat page: sends the question and renders the answer as it streams.
//
// Submitting the ask form POSTs it (question, the ticked `collections`, `conversation` when
// one is open, the CSRF token) to its `data-stream-url` (kb/web/chat.py) and reads the response
// as Server-Sent Events from the fetch body. The events are those of `POST /api/v1/query` with
// `stream: true` (kb/answer_events.py), data always JSON, plus `conversation`:
//   translating   {"languages": ["English", ...]}   first, only for a question the
//                 model translates to search those languages too (seconds on a CPU): said in
//                 the status line
//   sources       {"sources": [{"n", "title", "page", "page_label", "section", "snippet",
//                  "url", ...}]}
//                 the passages the model is about to read, before it starts: shown at once as
//                 numbered source cards under the answer, which streams in above them; a
//                 page_label is the number printed on the page where it is not `page`, else ""
//   token         {"text": "..."}                        appended to the answer as it arrives
//   citations     {"citations": [{"n", "title", "page", "page_label", "url", ...}],
//                  "refused": bool, "refusal": reason,
//                  "closest": [{"title", "section", "page", "page_label", "url", ...}]}
//                 refused: the "not found in the knowledge base" state (any streamed text is
//                 cleared: a refusal can come after tokens); the source cards, if any, stay,
//                 titled "Found instead", else the closest sources are listed as such.
//                 Otherwise the cards the answer cites are marked "Cited" (one list of
//                 sources, not a second one of citations)
//   checking      {"sentences": n}   the answer is written and the model now checks its n
//                 sentences against their sources (a second or so each): said under the text
//   retrying      {}   no sentence of the streamed text is stated in its sources and the model
//                 writes the answer again, unstreamed: the text is cleared and that is said
//                 until `done` brings the second answer (or `citations` a refusal)
//   check         {"check": "blocked" | "ungrounded", "answer"}   only for a checked answer:
//                 blocked replaces the streamed text with `answer`; ungrounded marks it
//   conversation  {"id", "title", "url"}                 where the exchange was saved
//   done          {"query_id", "answer", "refused", "refusal", "check",
//                  "claims": [{"text", "supported", "passages", "start", "end"}]}
//                 `answer` replaces the streamed text (the same but for white space at its ends,
//                 the [n] markers given to an answer the model wrote without any, and those
//                 of a sentence re-cited to the passage that states it);
//                 query_id is used only to rate this answer; a claim its sources do not support
//                 is marked unverified where it stands in the answer (start and end: character
//                 offsets, in code points)
//   queue         {"ahead": n}   the model is answering others first: n questions before this
//                 one (0: it starts now); the page waits as long as it takes
//   error         {"error": {"code": "model_busy" | "unavailable" | ..., "message": "..."}}
// The Stop button, shown while an answer streams, aborts the request: the server stops the model
// at once (also while it reads the prompt) and the question goes back into the box.
// An HTTP error before the stream starts (400, 403, 404, 429, 503) is shown plainly as well.
// Once the answer is done, its "[n]" markers link to the cards (reopened conversations too:
// templates/chat/_source_cards.html renders the same cards).
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
    403: "Your session has ended or this page is out of date. Reload the page (sign in again if asked) and ask again.",
    429: "Too many questions in a short time. Wait a moment and ask again.",
    503: "Answering is unavailable right now. Try again shortly.",
  };
  const BUSY = "The model is busy answering other questions.";
  const RATE_LIMITED = "Too many questions in a short time.";
  const STREAM_ERRORS = {
    model_busy: BUSY + " Try again in a moment.",
    unavailable: "Answering is unavailable right now: the model or the search index cannot be reached. Try again later, or tell your administrator.",
  };
  const NOT_FOUND = "Not found in the knowledge base: no passage you may read answers this.";
  const FOUND_INSTEAD = "Found instead:";
  const SOURCES = "Sources";
  const WRITING = "Writing the answer from these sources…";
  const CHECKING = "Checking each sentence against its sources…";
  const RETRYING = "The sources do not state that answer. Answering again in their own words…";
  const STOPPED = "Stopped. Nothing more is being computed for this question.";
  const CITED = "Cited";
  const UNGROUNDED = "The cited sources do not seem to support this answer. Read them before relying on it.";
  const UNVERIFIED = "Unverified: its sources do not state this. Read them before relying on it.";
  const NEW_TAB = " (opens in a new tab)";

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
    const status = el("p", "answer-status muted small", "Searching your documents…");
    answer.append(text, status);
    turn.append(answer);
    conversation.append(turn);
    turn.scrollIntoView({ block: "end" });
    return { turn: turn, answer: answer, text: text, status: status, question: question };
  }

  // Notices belong to the answer: above the source cards, whenever they come.
  function notice(parts, kind, message) {
    const node = el("p", "notice notice-" + kind, message);
    if (kind === "error") node.setAttribute("role", "alert");
    parts.answer.insertBefore(node, parts.sources ? parts.sources.section : null);
  }

  // The physical page, and the number printed on it where that differs (PDF page labels).
  function pageText(item) {
    if (!item.page) return "";
    return ", page " + item.page + (item.page_label ? " (printed " + item.page_label + ")" : "");
  }

  function sourceLink(item, withSection) {
    const section = withSection && item.section ? " — " + item.section : "";
    const link = el("a", "", item.title + section + pageText(item));
    link.href = item.url;
    link.target = "_blank";
    link.rel = "noopener";
    link.append(el("span", "visually-hidden", NEW_TAB));
    return link;
  }

  // One card per passage (templates/chat/_source_cards.html renders the same for a reopened
  // conversation, without snippets: a stored citation keeps no passage text).
  function sourceCard(item) {
    const card = el("li", "source-card");
    card.value = item.n;
    card.dataset.n = String(item.n);
    const link = sourceLink(item, false);
    link.className = "source-title";
    card.append(el("span", "source-n", String(item.n)), link);
    if (item.section) card.append(el("p", "source-section small muted", item.section));
    if (item.snippet) card.append(el("p", "source-snippet small", item.snippet));
    return card;
  }

  function showSources(parts, items) {
    const section = el("section", "sources");
    const label = el("p", "sources-label small", SOURCES);
    const list = el("ol", "source-cards");
    list.setAttribute("aria-label", SOURCES);
    for (const item of items) list.append(sourceCard(item));
    section.append(label, list);
    parts.answer.append(section);
    parts.sources = { section: section, label: label, list: list };
  }

  // Before the model starts: the cards now, and the status says what is happening meanwhile.
  function sources(parts, payload) {
    if (!payload.sources.length) return;
    showSources(parts, payload.sources);
    if (parts.status) parts.status.textContent = WRITING;
  }

  // The model translates the question to search the asker's other languages too.
  function translating(parts, payload) {
    if (!parts.status) return;
    const languages = new Intl.ListFormat("en", { type: "conjunction" }).format(payload.languages);
    parts.status.textContent = "Searching your documents, in " + languages + " too…";
  }

  // Waiting for the model: how many questions are before this one, live.
  function queued(parts, payload) {
    if (!parts.status) return;
    const n = payload.ahead;
    parts.status.textContent = n === 0 ? WRITING
      : "Waiting for the model: " + n + (n === 1 ? " question" : " questions") + " ahead of you…";
  }

  // A refusal, possibly after tokens (the model's own non-answer): they are not the answer.
  function refused(parts, payload) {
    parts.text.replaceChildren();
    notice(parts, "empty", NOT_FOUND);
    if (payload.gap) notice(parts, "gap", payload.gap);  // what the sources found do not cover
    if (parts.sources) {  // the cards stay, as what was found instead
      parts.sources.label.textContent = FOUND_INSTEAD;
      parts.sources.list.setAttribute("aria-label", "Found instead");
      parts.sources.section.classList.add("sources-found-instead");
      return;
    }
    const closest = payload.closest || [];
    if (!closest.length) return;
    parts.answer.append(el("p", "found-instead-label small", FOUND_INSTEAD));
    const list = el("ul", "found-instead");
    list.setAttribute("aria-label", "Found instead");
    for (const item of closest) {
      const entry = el("li");
      entry.append(sourceLink(item, true));
      list.append(entry);
    }
    parts.answer.append(list);
  }

  // The cited cards are marked; a stream without a sources event (not sent today) still
  // gets its cited sources as cards.
  function citations(parts, payload) {
    if (payload.refused) {
      refused(parts, payload);
      return;
    }
    if (!payload.citations.length) return;
    if (!parts.sources) showSources(parts, payload.citations);
    const cited = new Set(payload.citations.map((item) => String(item.n)));
    for (const card of parts.sources.list.querySelectorAll(".source-card")) {
      if (!cited.has(card.dataset.n)) continue;
      card.classList.add("is-cited");
      card.append(el("span", "source-cited small", CITED));
    }
  }

  // Once the answer is done: "[2]" becomes a link to the second source card, and each sentence
  // its sources do not support is marked unverified. `spans` say where those stand in the text,
  // [start, end] in characters (code points, end exclusive): the server finds them, for a new
  // answer in done's `claims` (claimSpans), for a reopened one in the answer's
  // data-unverified (storedSpans; kb/selectors/conversations.py).
  let cardSets = 0;
  function decorate(answer, spans) {
    const text = answer.querySelector(".answer-text");
    const cards = cardIds(answer);
    if (!text || (!spans.length && !Object.keys(cards).length)) return;
    const chars = Array.from(text.textContent);
    text.replaceChildren();
    let at = 0;
    for (const [start, end] of ordered(spans, chars.length)) {
      withMarkers(text, chars.slice(at, start).join(""), cards);
      const mark = el("span", "claim-unverified");
      mark.title = UNVERIFIED;
      withMarkers(mark, chars.slice(start, end).join(""), cards);
      text.append(mark, el("span", "claim-flag small", "unverified"));
      at = end;
    }
    withMarkers(text, chars.slice(at).join(""), cards);
  }

  // In text order, each inside the text and after the one before; any other is left out.
  function ordered(spans, length) {
    const kept = [];
    let at = 0;
    for (const [start, end] of spans.slice().sort((a, b) => a[0] - b[0])) {
      if (!Number.isInteger(start) || !Number.isInteger(end)) continue;
      if (start < at || end <= start || end > length) continue;
      kept.push([start, end]);
      at = end;
    }
    return kept;
  }

  function claimSpans(claims) {
    return (claims || [])
      .filter((claim) => !claim.supported && Number.isInteger(claim.start))
      .map((claim) => [claim.start, claim.end]);
  }

  function storedSpans(answer) {
    const stored = answer.querySelector(".answer-text")?.dataset.unverified;
    try {
      const spans = JSON.parse(stored || "[]");
      return Array.isArray(spans) ? spans.filter((span) => Array.isArray(span)) : [];
    } catch (ignored) {
      return [];
    }
  }

  function cardIds(answer) {
    const cards = {};
    cardSets += 1;
    const prefix = "source-" + cardSets + "-";
    for (const card of answer.querySelectorAll(".source-card[data-n]")) {
      if (!card.id) card.id = prefix + card.dataset.n;
      cards[card.dataset.n] = card.id;
    }
    return cards;
  }

  // Appends `text` to `parent`, its "[n]" markers as links to the cards they name.
  function withMarkers(parent, text, cards) {
    for (const piece of text.split(/(\[\d+\])/)) {
      const n = (/^\[(\d+)\]$/.exec(piece) || [])[1];
      if (n && cards[n]) {
        const link = el("a", "marker", piece);
        link.href = "#" + cards[n];
        link.setAttribute("aria-label", "source " + n);
        parent.append(link);
      } else if (piece) {
        parent.append(piece);
      }
    }
  }

  function feedback(parts, queryId) {
    const template = document.getElementById("feedback-template");
    if (!template || !queryId) return;
    const form = template.content.firstElementChild.cloneNode(true);
    form.querySelector("input[name=query_id]").value = String(queryId);
    parts.answer.append(form);
    if (window.htmx) window.htmx.process(form);
  }

  function joined(form, payload) {
    form.elements.conversation.value = String(payload.id);
    form.elements.question.placeholder = "Ask a follow-up…";
    if (window.location.pathname !== payload.url) {
      window.history.replaceState(null, "", payload.url);
      document.title = payload.title + " · Chat · Quarry";
    }
    document.querySelector(".new-conversation")?.removeAttribute("aria-current");
    const list = form.dataset.conversationsUrl;
    if (window.htmx && list) {
      window.htmx.ajax("GET", list + "?current=" + payload.id,
                       { target: "#conversation-list", swap: "outerHTML" });
    }
  }

  // The whole answer is checked once it is written (kb/answer_events.py, `check` event).
  function checked(parts, payload) {
    if (payload.check === "blocked") {
      parts.text.textContent = payload.answer;
      parts.answer.classList.add("answer-blocked");
    } else if (payload.check === "ungrounded") {
      notice(parts, "empty", UNGROUNDED);
    }
  }

  // The text is all there; its sentences are being checked until `citations` arrives.
  function checking(parts) {
    parts.status = el("p", "answer-status muted small", CHECKING);
    parts.text.after(parts.status);
  }

  // The streamed text is not the answer: the model writes it again (not streamed).
  function retrying(parts) {
    parts.text.textContent = "";
    parts.status = el("p", "answer-status muted small", RETRYING);
    parts.text.after(parts.status);
  }

  function settle(parts) {
    parts.status?.remove();
    parts.status = null;
  }

  function render(form, parts, name, payload) {
    const statusOnly = ["conversation", "sources", "queue", "translating"];
    if (!statusOnly.includes(name)) settle(parts);
    if (name === "translating") translating(parts, payload);
    else if (name === "sources") sources(parts, payload);
    else if (name === "queue") queued(parts, payload);
    else if (name === "token") parts.text.append(payload.text);
    else if (name === "checking") checking(parts);
    else if (name === "retrying") retrying(parts);
    else if (name === "check") checked(parts, payload);
    else if (name === "citations") citations(parts, payload);
    else if (name === "conversation") joined(form, payload);
    else if (name === "done") {
      parts.turn.dataset.queryId = String(payload.query_id);
      parts.done = true;
      if (!payload.refused) parts.text.textContent = payload.answer;
      decorate(parts.answer, claimSpans(payload.claims));
      feedback(parts, payload.query_id);
    } else if (name === "error") {
      notice(parts, "error", STREAM_ERRORS[payload.error.code] || payload.error.message);
      parts.failed = true;
    }
  }

  async function httpError(response) {
    let error = {};
    try {
      error = (await response.json()).error || {};
    } catch (ignored) {
      error = {};
    }
    const wait = response.headers.get("Retry-After");
    const again = wait ? " Ask again in " + wait + " seconds." : "";
    if (error.code === "model_busy") return BUSY + (again || " Try again in a moment.");
    if (error.code === "history_unreadable") return error.message;
    if (response.status === 429) return again ? RATE_LIMITED + again : HTTP_ERRORS[429];
    if (HTTP_ERRORS[response.status]) return HTTP_ERRORS[response.status];
    return error.message || "The answer failed (HTTP " + response.status + "). Try again.";
  }

  function checkedCollections(form) {
    return document.querySelectorAll("input[name=collections][form=" + form.id + "]:checked").length;
  }

  async function send(form) {
    const conversation = document.getElementById("conversation");
    const question = form.elements.question.value.trim();
    const note = form.querySelector("[data-composer-note]");
    if (!question) return;
    if (!checkedCollections(form)) {
      note.textContent = "Tick at least one collection to search.";
      note.classList.add("composer-warning");
      return;
    }
    note.classList.remove("composer-warning");
    const button = form.querySelector("button[type=submit]");
    const stop = form.querySelector("[data-stop]");
    const parts = startTurn(conversation, question);
    const body = new FormData(form);
    const controller = new AbortController();
    const onStop = () => controller.abort();
    conversation.setAttribute("aria-busy", "true");
    button.disabled = true;
    if (stop) {
      stop.hidden = false;
      stop.addEventListener("click", onStop);
    }
    form.elements.question.value = "";
    try {
      const response = await fetch(form.dataset.streamUrl, {
        method: "POST",
        body: body,
        headers: { Accept: "text/event-stream", "X-CSRFToken": body.get("csrfmiddlewaretoken") },
        credentials: "same-origin",
        signal: controller.signal,
      });
      if (!response.ok || !response.body) {
        settle(parts);
        notice(parts, "error", await httpError(response));
        parts.failed = true;
        return;
      }
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const parsed = parse(buffer + value);
        buffer = parsed.rest;
        for (const event of parsed.events) render(form, parts, event.event, JSON.parse(event.data));
      }
      if (!parts.done && !parts.failed) throw new Error("the stream ended early");
    } catch (error) {
      settle(parts);
      if (controller.signal.aborted) notice(parts, "info", STOPPED);
      else notice(parts, "error", "The connection was lost before the answer finished. Ask again.");
      parts.failed = true;
    } finally {
      conversation.setAttribute("aria-busy", "false");
      button.disabled = false;
      if (stop) {
        stop.hidden = true;
        stop.removeEventListener("click", onStop);
      }
      if (parts.failed && !form.elements.question.value) form.elements.question.value = question;
      parts.turn.scrollIntoView({ block: "end" });
    }
  }

  // Phones: the side panels start folded so the conversation is on the first screen.
  function foldSidePanels() {
    if (!window.matchMedia("(max-width: 720px)").matches) return;
    for (const panel of document.querySelectorAll("[data-side-panel]")) panel.open = false;
  }

  window.Quarry = Object.assign(window.Quarry || {}, {
    sse: { parse: parse },
    chat: { send: send },
  });

  document.addEventListener("DOMContentLoaded", () => {
    foldSidePanels();
    for (const answer of document.querySelectorAll(".turn-answer")) {
      decorate(answer, storedSpans(answer));
    }
    document.body.addEventListener("htmx:responseError", (event) => {
      const form = event.target.closest?.("[data-feedback]");
      if (!form) return;
      form.querySelector(".feedback-error")?.remove();
      const status = event.detail.xhr.status;
      const message = status === 404 ? "This answer can no longer be rated."
        : status === 429 ? HTTP_ERRORS[429] : "Your rating could not be saved. Try again.";
      const node = el("p", "feedback-error notice notice-error small", message);
      node.setAttribute("role", "alert");
      form.append(node);
    });
    const form = document.getElementById("ask-form");
    if (!form || !form.dataset.streamUrl) return;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!form.querySelector("button[type=submit]").disabled) send(form);
    });
    form.elements.question.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
  });
})();
