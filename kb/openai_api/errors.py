"""Errors as the OpenAI error object, `{"error": {"message", "type", "param", "code"}}`, with
the status codes OpenAI clients act on (401, 404, 400, 429 with Retry-After, 503): the `openai`
client picks its exception class, and whether to retry, from the status alone."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from kb.error_text import without_paths

# OpenAI's error types by status; anything else 4xx is a bad request.
_TYPES = {
    status.HTTP_401_UNAUTHORIZED: "invalid_request_error",
    status.HTTP_404_NOT_FOUND: "invalid_request_error",
    status.HTTP_429_TOO_MANY_REQUESTS: "rate_limit_error",
}
# Quarry's codes renamed to OpenAI's where a client may know them; the rest are kept
# (token_leaked, model_busy, unavailable say more than OpenAI's would).
_CODES = {
    "not_authenticated": "invalid_api_key",
    "authentication_failed": "invalid_api_key",
    "throttled": "rate_limit_exceeded",
}


class ModelNotFound(exceptions.NotFound):
    """One answer for a model that does not exist and one the caller may not read: it must not
    tell a collection's existence (docs/security.md, no oracles)."""

    default_code = "model_not_found"
    default_detail = "The model does not exist or you do not have access to it."
    param = "model"


def error_object(
    *, message: str, code: str, status_code: int, param: str | None = None
) -> dict[str, Any]:
    kind = _TYPES.get(
        status_code, "server_error" if status_code >= 500 else "invalid_request_error"
    )
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def openai_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler first: it sets the status, Retry-After and WWW-Authenticate."""
    if isinstance(exc, exceptions.PermissionDenied | Http404):
        exc = exceptions.NotFound("Not found.")
    response = exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500
    param, message = _param_and_message(response.data)
    param = getattr(exc, "param", param)
    code = _code(exc, response.status_code)
    response.data = error_object(
        message=without_paths(message), code=code, status_code=response.status_code, param=param
    )
    return response


def _code(exc: Exception, status_code: int) -> str:
    codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
    if isinstance(codes, str):
        return _CODES.get(codes, codes)
    return "invalid" if status_code == status.HTTP_400_BAD_REQUEST else "error"


def _param_and_message(data: Any) -> tuple[str | None, str]:
    """A validation error names its first field as `param`, as OpenAI's do."""
    if isinstance(data, dict) and "detail" in data:
        return None, str(data["detail"])
    if isinstance(data, dict) and data:
        field, detail = next(iter(data.items()))
        return str(field), flat(detail)
    return None, flat(data)


def flat(detail: Any) -> str:
    """DRF's nested error details as one sentence ("content: Only text content is supported.")."""
    if isinstance(detail, dict):
        return "; ".join(f"{field}: {flat(value)}" for field, value in detail.items() if value)
    if isinstance(detail, list):
        return " ".join(flat(item) for item in detail if item)
    return str(detail)
