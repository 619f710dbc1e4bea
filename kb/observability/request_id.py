"""A request id for every web request, carried into the Celery tasks it enqueues, and stamped on
every log record in between, so one upload or question can be followed from web to worker.

The id comes from a trusted proxy's `X-Request-ID` when it looks like one (so a load balancer's
id is kept), otherwise it is generated; it is echoed back in the response header.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from celery.signals import before_task_publish, task_postrun, task_prerun
from django.http import HttpRequest, HttpResponseBase

HEADER = "X-Request-ID"
_TASK_HEADER = "quarry_request_id"
_VALID = re.compile(r"[A-Za-z0-9._-]{8,64}")

request_id: ContextVar[str] = ContextVar("request_id", default="")
access = logging.getLogger("quarry.access")


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_for(incoming: str) -> str:
    """The proxy's id when it looks like one, else a new one."""
    return incoming if _VALID.fullmatch(incoming) else new_request_id()


class RequestIdMiddleware:
    """Sync and async: Django runs it either way (contextvars follow both)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        incoming = request.headers.get(HEADER, "")
        # Not reset afterwards: Django logs errors after the middleware returns, and those
        # lines should carry the id too. The next request on this thread sets its own.
        request_id.set(request_id_for(incoming))
        started = time.perf_counter()
        response = self.get_response(request)
        response[HEADER] = request_id.get()
        # The access log: no client address, no user, no query string.
        access.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={"ms": round((time.perf_counter() - started) * 1000, 1)},
        )
        return response


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record a handler sees (empty outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


def install_record_factory() -> None:
    """Stamp the id when a record is made, in the thread that made it: a record handed to
    another thread or handler keeps the id of the work that produced it."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "quarry_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = request_id.get()
        return record

    factory.quarry_request_id = True  # type: ignore[attr-defined]  # a marker on the function, so it is installed once
    logging.setLogRecordFactory(factory)


@before_task_publish.connect
def _carry_into_task(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is not None and request_id.get():
        headers[_TASK_HEADER] = request_id.get()


@task_prerun.connect
def _adopt_in_worker(task: Any = None, **_: Any) -> None:
    carried = getattr(getattr(task, "request", None), _TASK_HEADER, None)
    request_id.set(str(carried) if carried else new_request_id())


@task_postrun.connect
def _forget_in_worker(**_: Any) -> None:
    request_id.set("")
