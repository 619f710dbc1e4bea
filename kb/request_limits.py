"""Request bodies too large or holding too many files: refused with 413 before they are read.

Django limits the form fields of a body (DATA_UPLOAD_MAX_MEMORY_SIZE) and the number of files
(DATA_UPLOAD_MAX_NUMBER_FILES), but not the files' total size, and the REST framework reads
JSON bodies without any limit. The middleware checks the declared length first; every refusal,
ours or Django's, becomes one `SuspiciousOperation` that kb.views.bad_request answers.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.http import HttpRequest, HttpResponse

from kb.uploads import MB, too_many_files

MULTIPART = "multipart/form-data"


class RequestTooLarge(RequestDataTooBig):
    """The declared body is over our limit; carries the message the caller is shown."""


class RequestBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = body_limit(request)
        if _declared_length(request) > limit:
            raise RequestTooLarge(f"The request is larger than {_size(limit)}; nothing was stored.")
        return self.get_response(request)


def body_limit(request: HttpRequest) -> int:
    """Uploads may be as large as KB_MAX_REQUEST_MB; anything else as a form field may."""
    if request.content_type == MULTIPART:
        return int(settings.KB_MAX_REQUEST_MB) * MB
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def refusal_message(exc: Exception) -> str | None:
    """What to tell the caller when Django or our middleware refused the body; None if `exc`
    is some other bad request."""
    if isinstance(exc, RequestTooLarge):
        return str(exc)
    if isinstance(exc, TooManyFilesSent):
        return too_many_files(int(settings.DATA_UPLOAD_MAX_NUMBER_FILES)).message
    if isinstance(exc, RequestDataTooBig):
        limit = int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        return f"The request's form fields are larger than {_size(limit)}; nothing was stored."
    return None


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # Django reads no body it cannot measure


def _size(limit: int) -> str:
    return f"{limit / MB:g} MB"
