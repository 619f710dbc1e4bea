"""`POST /api/v1/query`, `/search` and `/feedback`: questions answered under the caller's
access policy. A query streams as server-sent events (kb/answer_events.py) when asked to."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kb.answer_events import (
    answer_events,
    answer_out,
    event_stream,
    failures_as_http,
    passage_out,
    refuse_when_saturated,
)
from kb.answer_serializers import FeedbackIn, QueryIn, SearchIn
from kb.answering import answer_question, answer_stream, search_passages
from kb.api.serializers import FeedbackOut, QueryOut, SearchOut
from kb.models import QueryLog
from kb.services.querylog import feedback_record
from kb.throttling import PerUserRateThrottle


class QueryApi(APIView):
    throttle_classes = [PerUserRateThrottle]

    @extend_schema(
        request=QueryIn,
        responses={
            200: OpenApiResponse(
                QueryOut,
                description="With `stream: true`: `text/event-stream` of events in this order: "
                "`sources` ({sources: [{n, document_id, title, page, page_label, section, "
                "chunk_id, snippet}]}), the passages the model will read, sent as soon as they are "
                "retrieved and access-checked and before the model starts (none when the question "
                "is refused before the model: weak evidence); then `token` events ({text}) as the "
                "model writes; then `check` ({check, answer}) only when the answer was blocked "
                "(its `answer` replaces the streamed text) or is ungrounded; then `citations` "
                "({citations, refused, refusal, closest, gap}; a citation's `n` is its "
                "source's); then `done` ({query_id, answer, refused, refusal, check, claims}: "
                "`claims` as in the JSON answer, each sentence checked against its sources, with "
                "where it stands in `answer`). An `error` event "
                "({error}) ends a failed stream. A question can be refused after its sources and "
                "tokens were streamed: `citations` with `refused: true` means the streamed text is "
                "not the answer; replace it with `done`'s `answer`. Show `done`'s `answer` in any "
                "case: an answer the model wrote without `[n]` markers gets them there, one per "
                "sentence a single source supports.",
            )
        },
        summary="Ask a question; the answer cites the passages it used",
    )
    def post(self, request: Request) -> Response | StreamingHttpResponse:
        payload = QueryIn(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        ask: dict[str, Any] = {
            "user": request.user,
            "question": data["question"],
            "collection_ids": data.get("collections"),
            "top_k": data.get("top_k") or _default_top_k(),
            "history": data.get("history") or [],
        }
        if data["stream"]:
            refuse_when_saturated()
            return event_stream(lambda: answer_events(answer_stream(**ask)))
        with failures_as_http():
            finished = answer_question(**ask)
        return Response(QueryOut(answer_out(finished)).data)


class SearchApi(APIView):
    throttle_classes = [PerUserRateThrottle]

    @extend_schema(request=SearchIn, responses=SearchOut, summary="Passages, without an answer")
    def post(self, request: Request) -> Response:
        payload = SearchIn(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        with failures_as_http():
            found = search_passages(
                user=request.user,
                query=data["query"],
                collection_ids=data.get("collections"),
                top_k=data.get("top_k") or _default_top_k(),
                translate=data.get("translate"),
            )
        results = [{**passage_out(p), "paths": list(p.paths)} for p in found.passages]
        out = {
            "results": results,
            "translations": list(found.translations),
            "translation_skipped": found.translation_skipped,
        }
        return Response(SearchOut(out).data)


class FeedbackApi(APIView):
    throttle_classes = [PerUserRateThrottle]

    @extend_schema(request=FeedbackIn, responses={201: FeedbackOut}, summary="Rate an answer")
    def post(self, request: Request) -> Response:
        payload = FeedbackIn(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        user: AbstractBaseUser = request.user  # type: ignore[assignment]  # IsAuthenticated: never anonymous here
        try:
            feedback_record(
                user=user, query_id=data["query_id"], rating=data["rating"], comment=data["comment"]
            )
        except QueryLog.DoesNotExist:
            raise exceptions.NotFound() from None  # someone else's query looks missing too
        out = {"query_id": data["query_id"], "rating": data["rating"]}
        return Response(FeedbackOut(out).data, status=status.HTTP_201_CREATED)


def _default_top_k() -> int:
    return int(settings.KB_TOP_K)
