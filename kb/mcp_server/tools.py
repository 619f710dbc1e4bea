"""The four tools. Each reads its caller from the request (auth.BearerAuth put the token's user
there), runs the REST API's own code for it in a thread (calls.in_thread) and returns a typed
result (results.py). Inputs pass the API's serializers; `search` and `ask` count against the
API's per-user question budget; failures of the model or a store become tool errors that
say what to do, never a traceback."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from django.conf import settings
from django.contrib.auth.models import User
from mcp.server.fastmcp import Context
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.session import ServerSession
from pydantic import Field
from rest_framework.serializers import Serializer
from starlette.requests import Request

from kb.answer_events import FAILURES, answer_out
from kb.answer_serializers import QueryIn, SearchIn
from kb.answering import answer_question, search_passages
from kb.error_text import without_paths
from kb.mcp_server.auth import USER
from kb.mcp_server.calls import in_thread
from kb.mcp_server.results import (
    AnswerResult,
    Collections,
    PassageResult,
    SearchResults,
    answer_result,
    collections_result,
    passage_result,
    search_result,
)
from kb.selectors.collections import collection_list_for_user
from kb.selectors.sources import source_passage_for_user
from kb.throttling import question_wait

logger = logging.getLogger(__name__)
T = TypeVar("T")

Ctx = Context[ServerSession, Any, Request]
CollectionIds = Annotated[
    list[int] | None,
    Field(description="Collection ids (from list_collections) to search; default: all yours."),
]
TopK = Annotated[
    int | None,
    Field(description="How many passages to use; default and limit: the server's (5 and 20)."),
]
Translate = Annotated[
    bool | None,
    Field(
        description="Also search the query translated into the other languages of your "
        "documents when its own words find little (seconds on a CPU); default: the server's."
    ),
]
# The same words for a chunk that does not exist and one the caller may not read.
NO_PASSAGE = "No passage with this chunk id."
# The API's field names, as the tools name them.
ARGUMENTS = {"collections": "collection_ids"}


async def list_collections(ctx: Ctx) -> Collections:
    user = caller(ctx)
    fields = ("id", "name", "description", "document_count")
    rows = await _run(lambda: list(collection_list_for_user(user=user).values(*fields)))
    return collections_result(rows)


async def search(
    query: Annotated[str, Field(description="What to look for, in words.")],
    ctx: Ctx,
    collection_ids: CollectionIds = None,
    top_k: TopK = None,
    translate: Translate = None,
) -> SearchResults:
    user = caller(ctx)
    data: dict[str, Any] = {
        "query": query,
        "collections": collection_ids,
        "top_k": top_k,
        "translate": translate,
    }

    def run() -> Any:
        given = _admitted(SearchIn(data=_given(data)), user)
        return search_passages(
            user=user,
            query=given["query"],
            collection_ids=given.get("collections"),
            top_k=_k(given),
            translate=given.get("translate"),
        )

    return search_result(await _run(run), base_url(ctx))


async def ask(
    question: Annotated[str, Field(description="A question, in any language.")],
    ctx: Ctx,
    collection_ids: CollectionIds = None,
    top_k: TopK = None,
) -> AnswerResult:
    user = caller(ctx)
    data: dict[str, Any] = {"question": question, "collections": collection_ids, "top_k": top_k}

    def run() -> Any:
        given = _admitted(QueryIn(data=_given(data)), user)
        finished = answer_question(
            user=user,
            question=given["question"],
            collection_ids=given.get("collections"),
            top_k=_k(given),
        )
        return answer_out(finished)

    return answer_result(await _run(run), base_url(ctx))


async def get_passage(
    chunk_id: Annotated[str, Field(description="A chunk id from search or ask.")], ctx: Ctx
) -> PassageResult:
    user = caller(ctx)
    try:
        canonical = str(uuid.UUID(chunk_id))
    except ValueError:
        raise ToolError(NO_PASSAGE) from None  # malformed: missing, like any other

    passage = await _run(lambda: source_passage_for_user(user=user, chunk_id=canonical))
    if passage is None:
        raise ToolError(NO_PASSAGE)
    return passage_result(passage, base_url(ctx))


def caller(ctx: Ctx) -> User:
    user = _request(ctx).scope.get(USER)
    if not isinstance(user, User):  # only BearerAuth's requests get this far
        raise ToolError("Not authenticated.")
    return user


def base_url(ctx: Ctx) -> str:
    """Links point at the address the client reached: the server knows no public URL."""
    return str(_request(ctx).base_url)


def _request(ctx: Ctx) -> Request:
    request = ctx.request_context.request
    if request is None:  # streamable HTTP always carries it
        raise ToolError("Not authenticated.")
    return request


def _given(data: dict[str, Any]) -> dict[str, Any]:
    """Arguments left out are absent, as in a REST request body, not null."""
    return {key: value for key, value in data.items() if value is not None}


def _admitted(serializer: Serializer[Any], user: User) -> dict[str, Any]:
    """The REST views' order: the rate limit first (DRF throttles before the handler), then
    the body's checks."""
    wait = question_wait(user)
    if wait is not None:
        raise ToolError(wait)
    if not serializer.is_valid():
        field, problems = next(iter(serializer.errors.items()))
        raise ToolError(f"{ARGUMENTS.get(field, field)}: {_first(problems)}")
    data: dict[str, Any] = serializer.validated_data
    return data


def _first(problems: Any) -> str:
    """DRF nests a list field's errors per item."""
    while isinstance(problems, list | dict):
        problems = next(iter(problems.values() if isinstance(problems, dict) else problems), "")
    return str(problems)


def _k(given: dict[str, Any]) -> int:
    return int(given.get("top_k") or settings.KB_TOP_K)


async def _run(work: Callable[[], T]) -> T:
    return await in_thread(lambda: _served(work))


def _served(work: Callable[[], T]) -> T:
    """The model or a store is down or busy: its message (the REST API's 429/503 text);
    anything else is a bug, logged here and not described to the caller (the API's 500)."""
    try:
        return work()
    except ToolError:
        raise
    except FAILURES as exc:
        raise ToolError(without_paths(str(exc))) from exc
    except Exception as exc:
        logger.exception("MCP tool failed")
        raise ToolError("Quarry failed to do this; the error is in its log.") from exc
