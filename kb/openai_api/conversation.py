"""OpenAI `messages` as the question and history `/api/v1/query` takes: the last message is the
question, earlier user and assistant turns its conversation (condensed by the answer path as
for any follow-up). `system` and `developer` messages are dropped: Quarry's own instructions
(retrieval/prompts/) decide how it answers, and a client must not be able to change them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers

from kb.answer_serializers import QueryIn
from kb.llm.chat import Message
from kb.openai_api.errors import flat

# The footnotes kb.openai_api.objects appends to an answer: a front-end sends them back with
# the assistant's turn, where they are only noise for condensing the next question. Each line
# runs to its newline or the end: an optional newline let `[1] [1] [1] …` split into lines in
# exponentially many ways before failing (one request held a CPU for hours).
_FOOTNOTES = re.compile(r"\n\n(?:\[\d+\] [^\n]*(?:\n|\Z))+\Z")


@dataclass(frozen=True)
class Conversation:
    question: str
    history: list[Message]


def conversation_from(messages: Sequence[dict[str, Any]]) -> Conversation:
    """Validated as `/api/v1/query` validates its question and history (limits from settings);
    a ValidationError on `messages` otherwise."""
    turns = [m for m in messages if m["role"] in ("user", "assistant")]
    if not turns or turns[-1]["role"] != "user":
        raise serializers.ValidationError(
            {"messages": "The last message must be the user's question."}
        )
    history = [{"role": t["role"], "content": without_footnotes(t["content"])} for t in turns[:-1]]
    query = QueryIn(data={"question": turns[-1]["content"], "history": history})
    if not query.is_valid():
        raise serializers.ValidationError({"messages": flat(query.errors)})
    data = query.validated_data
    return Conversation(
        question=data["question"],
        history=[Message(role=t["role"], content=t["content"]) for t in data.get("history") or []],
    )


def without_footnotes(text: str) -> str:
    return _FOOTNOTES.sub("", text)
