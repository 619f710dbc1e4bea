"""Every API error is JSON `{"error": {"code", "message"}}`; forbidden objects look missing."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from kb.error_text import without_paths


class ActionForbidden(exceptions.APIException):
    """403 for an action on something the caller can already see (it hides nothing). Use
    PermissionDenied for objects: that one is answered as 404."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "forbidden"
    default_detail = "You may not do this."


def json_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, exceptions.PermissionDenied | Http404):
        exc = exceptions.NotFound("Not found.")
    response = exception_handler(exc, context)
    if response is None:
        return None
    code = _code_for(exc, response.status_code)
    response.data = {"error": {"code": code, "message": without_paths(_message(response.data))}}
    return response


def _code_for(exc: Exception, status_code: int) -> str:
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        if isinstance(codes, str):
            return codes
    return "invalid" if status_code == status.HTTP_400_BAD_REQUEST else "error"


def _message(data: Any) -> str:
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])
    if isinstance(data, dict):
        return "; ".join(f"{field}: {_message(value)}" for field, value in data.items())
    if isinstance(data, list):
        return " ".join(_message(item) for item in data)
    return str(data)
