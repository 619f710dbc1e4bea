"""Reads of conversations: a user's own list, one of them, its history for a follow-up, and its
exchanges as a reopened chat shows them.

Conversations belong to one user: every read filters by the owner, so another user's (staff
included) looks exactly like a missing one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from kb.access import AnyUser, readable_document_ids
from kb.llm.chat import Message
from kb.models import Conversation, Turn, TurnRole
from retrieval.refusals import is_stock_refusal

# The API accepts this many earlier turns; older ones are dropped first.
HISTORY_MESSAGES = 20
HISTORY_CHARS = 8000  # per message, as the API's HistoryTurnIn


def conversation_list_for_user(*, user: AnyUser, limit: int = 50) -> QuerySet[Conversation]:
    if not user.is_authenticated:
        return Conversation.objects.none()
    return Conversation.objects.filter(user_id=user.pk).order_by("-updated_at", "-pk")[:limit]


def conversation_get_for_user(*, user: AnyUser, conversation_id: int) -> Conversation | None:
    """None both when it does not exist and when it is someone else's."""
    if not user.is_authenticated:
        return None
    return Conversation.objects.filter(pk=conversation_id, user_id=user.pk).first()


def conversation_history(*, conversation: Conversation) -> list[Message]:
    """The latest turns, oldest first, as `answer_stream(history=...)` takes them."""
    turns = list(conversation.turns.order_by("-pk")[:HISTORY_MESSAGES])
    return [
        Message(role=turn.role, content=turn.content[:HISTORY_CHARS]) for turn in reversed(turns)
    ]


@dataclass(frozen=True)
class Exchange:
    """A question and its answer as a reopened conversation shows them."""

    question: str
    answer: str
    refused: bool
    citations: list[dict[str, Any]]
    closest: list[dict[str, Any]]  # what a refusal found instead
    unverified: list[list[int]] = field(default_factory=list)  # Turn.unverified

    @property
    def shown_answer(self) -> str:
        """A refusal's stock text (and the sources it names, as they were when it was
        written): the page says it better, with the closest sources still readable."""
        return "" if self.refused and is_stock_refusal(self.answer) else self.answer

    @property
    def unverified_spans(self) -> str:
        """The unverified sentences' offsets as JSON, for the page's script to mark them
        (kb/static/kb/chat.js, decorate), in the text the browser reads from the page: an HTML
        parser turns a CR LF into one LF."""
        text = self.shown_answer
        return json.dumps(
            [[_parsed(text, start), _parsed(text, end)] for start, end in self.unverified]
        )


def conversation_exchanges(*, user: AnyUser, conversation: Conversation) -> list[Exchange]:
    """Pairs of turns; a citation or closest source (a refused turn's citations) whose document
    the user may no longer read is left out."""
    turns = list(conversation.turns.all())
    cited = {int(c["document_id"]) for t in turns for c in t.citations if "document_id" in c}
    readable = readable_document_ids(user, cited)
    exchanges: list[Exchange] = []
    question: Turn | None = None
    for turn in turns:
        if turn.role == TurnRole.USER:
            question = turn
            continue
        sources = [c for c in turn.citations if int(c.get("document_id", 0)) in readable]
        asked = question.content if question is not None else ""
        if turn.refused:
            exchanges.append(Exchange(asked, turn.content, True, [], sources))
        else:
            exchanges.append(
                Exchange(asked, turn.content, False, sources, [], unverified=turn.unverified)
            )
        question = None
    return exchanges


def _parsed(text: str, offset: int) -> int:
    return int(offset) - text.count("\r\n", 0, int(offset))
