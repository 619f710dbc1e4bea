"""`GET /v1/models`, `GET /v1/models/<id>` and `POST /v1/chat/completions`. Thin: the caller's
token authenticates them (kb.bearer_auth), kb.answering answers, kb.openai_api.objects says it
in OpenAI's words. Left out of Quarry's OpenAPI document: OpenAI's own describes them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kb.answer_events import failures_as_http, refuse_when_saturated
from kb.answering import answer_question, answer_stream
from kb.bearer_auth import BearerTokenAuthentication
from kb.openai_api.catalog import collection_ids_for, model_get, model_list
from kb.openai_api.conversation import conversation_from
from kb.openai_api.errors import openai_exception_handler
from kb.openai_api.objects import Reply
from kb.openai_api.serializers import ChatCompletionIn
from kb.parsers import JSONParser
from kb.streaming import iterate_in_thread
from kb.throttling import PerUserRateThrottle


class OpenAIView(APIView):
    """The API key is a Quarry token; no session (front-ends send a key, not a cookie)."""

    authentication_classes = [BearerTokenAuthentication]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    schema = None

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        return openai_exception_handler


class ModelListApi(OpenAIView):
    def get(self, request: Request) -> Response:
        return Response({"object": "list", "data": model_list(user=request.user)})


class ModelApi(OpenAIView):
    def get(self, request: Request, model: str) -> Response:
        return Response(model_get(user=request.user, model=model))


class ChatCompletionsApi(OpenAIView):
    throttle_classes = [PerUserRateThrottle]  # one budget with /api/v1/query and the chat

    def post(self, request: Request) -> Response | StreamingHttpResponse:
        payload = ChatCompletionIn(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        conversation = conversation_from(data["messages"])
        ask: dict[str, Any] = {
            "user": request.user,
            "question": conversation.question,
            "collection_ids": collection_ids_for(user=request.user, model=data["model"]),
            "top_k": int(settings.KB_TOP_K),
            "history": conversation.history,
        }
        reply = Reply(model=data["model"])
        if data["stream"]:
            refuse_when_saturated()  # a 429 now, not an error chunk in a started stream
            return _event_stream(lambda: reply.chunks(answer_stream(**ask)))
        with failures_as_http():
            finished = answer_question(**ask)
        return Response(reply.completion(finished))


def _event_stream(start: Callable[[], Iterator[dict[str, Any]]]) -> StreamingHttpResponse:
    """`data: {chunk}` lines, then `data: [DONE]`; `start` runs in its own thread
    (kb.streaming), as kb.answer_events.event_stream does for Quarry's own events."""
    response = StreamingHttpResponse(
        iterate_in_thread(lambda: _framed(start())), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each chunk on at once
    return response


def _framed(chunks: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for chunk in chunks:
        yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()
    yield b"data: [DONE]\n\n"
