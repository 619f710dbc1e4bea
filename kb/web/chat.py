"""The chat page's endpoints for signed-in users: a streamed answer and a rating.

They are DRF views for the same per-user rate limit as the API (PerUserRateThrottle), with
session authentication only, which enforces CSRF; an API token does not open them. The answer
streams the events of `POST /api/v1/query` (kb/answer_events.py) plus `conversation`
({id, title, url}) before `done` and, while the model answers others first, `queue` ({ahead});
each source (in `sources`), citation and closest source carries the `url` of its source view.
The stream waits for a busy model as long as it takes; the page's Stop button (or a closed
tab) ends it, and the model with it.
Questions and ratings are checked by the serializers the API uses (kb/answer_serializers.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from rest_framework import exceptions, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kb.answer_events import (
    Event,
    answer_events,
    answer_out,
    event_stream,
    finished_events,
    refuse_when_saturated,
    sources_event,
)
from kb.answer_serializers import ChatQuestionIn, FeedbackIn
from kb.answering import Finished, answer_stream
from kb.llm.chat import Message
from kb.models import QueryLog
from kb.selectors.conversations import conversation_get_for_user, conversation_history
from kb.services.conversations import exchange_record
from kb.services.querylog import feedback_record
from kb.session_auth import SessionWithCsrf
from kb.throttling import PerUserRateThrottle
from retrieval.answerer import Sources


class JsonErrors(DefaultContentNegotiation):
    """Errors are JSON whatever the page accepts (`text/event-stream` for the stream, HTML for
    htmx): the page reads their message; DRF would otherwise refuse with 406."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        first = next(iter(renderers))
        return first, first.media_type


class ChatView(APIView):
    schema = None  # the page's own endpoints: not part of the REST API's OpenAPI document
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonErrors
    authentication_classes = [SessionWithCsrf]
    permission_classes = [IsAuthenticated]
    throttle_classes = [PerUserRateThrottle]


class ChatStreamView(ChatView):
    """POST question, collections (ids, at least one) and optionally conversation (an id of
    the caller's own): the answer as server-sent events. Follow-ups carry their
    conversation's earlier turns as history."""

    def post(self, request: Request) -> Response | StreamingHttpResponse:
        payload = ChatQuestionIn(data=request.data)
        if not payload.is_valid():
            return _invalid(payload.errors)
        data = payload.validated_data
        user: AbstractBaseUser = request.user  # type: ignore[assignment]  # IsAuthenticated: never anonymous here
        history: list[Message] = []
        conversation_id = data.get("conversation")
        if conversation_id is not None:
            conversation = conversation_get_for_user(user=user, conversation_id=conversation_id)
            if conversation is None:
                raise exceptions.NotFound("This conversation no longer exists.")
            history = conversation_history(conversation=conversation)
        ask: dict[str, Any] = {
            "user": user,
            "question": data["question"],
            "collection_ids": data["collections"],
            "top_k": int(settings.KB_TOP_K),
            "history": history,
        }
        refuse_when_saturated()
        return event_stream(lambda: _chat_events(ask, conversation_id), patient=True)


class ChatFeedbackView(ChatView):
    """POST query_id (from the `done` event), rating and an optional comment; answers with
    the feedback form in its new state (htmx swaps it in). Someone else's query is a 404."""

    def post(self, request: Request) -> Response | HttpResponse:
        payload = FeedbackIn(data=request.data)
        if not payload.is_valid():
            return _invalid(payload.errors)
        data = payload.validated_data
        user: AbstractBaseUser = request.user  # type: ignore[assignment]  # IsAuthenticated: never anonymous here
        comment = data["comment"]
        try:
            feedback_record(
                user=user, query_id=data["query_id"], rating=data["rating"], comment=comment
            )
        except QueryLog.DoesNotExist:
            raise exceptions.NotFound("This answer cannot be rated any more.") from None
        context = {
            "query_id": data["query_id"],
            "rating": data["rating"],
            "comment": comment,
            "commented": bool(comment),
        }
        return render(request._request, "chat/_feedback.html", context, status=201)


def _chat_events(ask: dict[str, Any], conversation_id: int | None) -> Iterator[Event]:
    return answer_events(
        answer_stream(**ask), partial(_finished_events, ask, conversation_id), _sources_event
    )


def _sources_event(found: Sources) -> Event:
    """The API's `sources` event with source links: the page shows them as cards at once."""
    event = sources_event(found)
    return replace(event, data={"sources": _linked(event.data["sources"])})


def _finished_events(
    ask: dict[str, Any], conversation_id: int | None, finished: Finished
) -> Iterator[Event]:
    """The exchange is saved first; then the API's closing events with source links in the
    citations and the conversation before done. Only the `done` event carries the query id
    (for a rating from this page); the conversation never stores it."""
    out = answer_out(finished)
    out = replace(out, citations=_linked(out.citations), closest=_linked(out.closest))
    conversation = exchange_record(
        user=ask["user"],
        conversation_id=conversation_id,
        question=ask["question"],
        answer=out.answer,
        refused=out.refused,
        citations=out.citations,
        closest=out.closest,
        claims=finished.answer.check.claims,
    )
    url = reverse("chat-conversation", args=[conversation.pk])
    saved = Event("conversation", {"id": conversation.pk, "title": conversation.title, "url": url})
    yield from finished_events(out, before_done=[saved])


def _linked(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**s, "url": reverse("chat-source", args=[s["chunk_id"]])} for s in sources]


def _invalid(errors: Any) -> Response:
    """400 with the first problem in plain words (the page shows it as it is)."""
    body = {"error": {"code": "invalid", "message": _first_message(errors) or "Invalid request."}}
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


def _first_message(errors: Any) -> str:
    """DRF nests errors in dicts (per field, per list item) and lists."""
    if isinstance(errors, dict):
        errors = list(errors.values())
    if isinstance(errors, list):
        for item in errors:
            if found := _first_message(item):
                return found
        return ""
    return str(errors)
