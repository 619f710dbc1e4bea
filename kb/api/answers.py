"""`POST /api/v1/query`, `/search` and `/feedback`: questions answered under the caller's
access policy. A query streams as server-sent events when asked to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kb.answer_serializers import FeedbackIn, QueryIn, SearchIn
from kb.answering import Finished, answer_question, answer_stream, search_passages
from kb.api.serializers import FeedbackOut, QueryOut, SearchOut
from kb.api.throttling import PerUserRateThrottle
from kb.error_text import without_paths
from kb.llm.chat import BUSY_MESSAGE, LlmBusy, LlmUnavailable
from kb.llm.factory import model_saturated
from kb.models import QueryLog
from kb.querylog import feedback_record
from kb.stores.errors import StoreError
from kb.streaming import iterate_in_thread
from retrieval.answerer import Answer
from retrieval.types import Passage


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"


# Seconds a busy model's callers are told to wait before asking again.
BUSY_RETRY_AFTER = 30


class ModelBusy(exceptions.Throttled):
    """Load shedding, not failure: the caller should come back shortly (429, Retry-After)."""

    default_code = "model_busy"
    default_detail = BUSY_MESSAGE

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(wait=BUSY_RETRY_AFTER, detail=detail)


class QueryApi(APIView):
    throttle_classes = [PerUserRateThrottle]

    @extend_schema(
        request=QueryIn,
        responses={
            200: OpenApiResponse(
                QueryOut,
                description="With `stream: true`: `text/event-stream` of `token` events "
                "({text}), then `check` ({check, answer}) only when the answer was blocked "
                "(its `answer` replaces the streamed text) or is ungrounded, then `citations` "
                "({citations, refused}), then `done` ({query_id, answer, refused, check}); an "
                "`error` event ({error}) ends a failed stream.",
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
            if model_saturated():  # say so now, not as an error event in a started stream
                raise ModelBusy()
            return _event_stream(ask)
        with _unavailable_as_503():
            finished = answer_question(**ask)
        return Response(QueryOut(_query_out(finished)).data)


class SearchApi(APIView):
    throttle_classes = [PerUserRateThrottle]

    @extend_schema(request=SearchIn, responses=SearchOut, summary="Passages, without a model")
    def post(self, request: Request) -> Response:
        payload = SearchIn(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        with _unavailable_as_503():
            passages = search_passages(user=request.user, query=data["query"],
                                       collection_ids=data.get("collections"),
                                       top_k=data.get("top_k") or _default_top_k())  # fmt: skip
        results = [{**_passage_out(p), "section": p.section, "paths": list(p.paths)}
                   for p in passages]  # fmt: skip
        return Response(SearchOut({"results": results}).data)


class FeedbackApi(APIView):
    throttle_classes = [PerUserRateThrottle]

    @extend_schema(request=FeedbackIn, responses={201: FeedbackOut}, summary="Rate an answer")
    def post(self, request: Request) -> Response:
        payload = FeedbackIn(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        user: AbstractBaseUser = request.user  # type: ignore[assignment]
        try:
            feedback_record(user=user, query_id=data["query_id"], rating=data["rating"],
                            comment=data["comment"])  # fmt: skip
        except QueryLog.DoesNotExist:
            raise exceptions.NotFound() from None  # someone else's query looks missing too
        out = {"query_id": data["query_id"], "rating": data["rating"]}
        return Response(FeedbackOut(out).data, status=status.HTTP_201_CREATED)


def _default_top_k() -> int:
    return int(settings.KB_TOP_K)


@contextmanager
def _unavailable_as_503() -> Iterator[None]:
    """The model or a store is down: 503 saying what to do, never a 500."""
    try:
        yield
    except LlmBusy as exc:
        raise ModelBusy(str(exc)) from exc
    except (LlmUnavailable, StoreError) as exc:
        raise ServiceUnavailable(str(exc)) from exc


def _event_stream(ask: dict[str, Any]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        iterate_in_thread(lambda: _events(ask)), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _events(ask: dict[str, Any]) -> Iterator[bytes]:
    try:
        for item in answer_stream(**ask):
            if isinstance(item, Finished):
                out = _query_out(item)
                yield from _check_event(out)
                yield _sse("citations", {"citations": out["citations"], "refused": out["refused"]})
                yield _sse("done", {k: out[k] for k in DONE_FIELDS})
            else:
                yield _sse("token", {"text": item})
    except LlmBusy as exc:
        yield _sse("error", {"error": {"code": "model_busy", "message": without_paths(str(exc))}})
    except (LlmUnavailable, StoreError) as exc:
        yield _sse("error", {"error": {"code": "unavailable", "message": without_paths(str(exc))}})


# What the last event of a streamed answer carries: the final text, which a blocked answer's
# streamed tokens do not match.
DONE_FIELDS = ("query_id", "answer", "refused", "check")


def _check_event(out: dict[str, Any]) -> Iterator[bytes]:
    """Tokens were streamed before the whole answer could be checked: a `check` event tells
    the client to replace them (blocked) or mark them (ungrounded)."""
    if out["check"]:
        yield _sse("check", {"check": out["check"], "answer": out["answer"]})


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _query_out(finished: Finished) -> dict[str, Any]:
    answer = finished.answer
    return {
        "query_id": finished.log.pk,
        "answer": answer.text,
        "refused": answer.refused,
        "check": str(answer.check.verdict),
        "citations": [] if answer.refused else [_passage_out(p) for p in _sources(answer)],
    }


def _sources(answer: Answer) -> list[Passage]:
    """The cited passages; an answer that cites none was still built from all it was given."""
    return answer.cited or answer.passages


def _passage_out(passage: Passage) -> dict[str, Any]:
    return {"n": passage.n, "document_id": passage.document_id, "title": passage.title,
            "page": passage.page, "chunk_id": passage.chunk_id, "text": passage.text,
            "score": round(passage.score, 6)}  # fmt: skip
