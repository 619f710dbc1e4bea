"""Pages every signed-in user has: the chat page and downloads of documents they may read.

The manage pages live in kb.web.manage; conversations, sources and analytics in kb.web.pages;
the streamed answer and ratings in kb.web.chat (kb/static/kb/chat.js describes the events).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.http import require_GET

from kb.openai_api.errors import error_object
from kb.request_limits import refusal_message
from kb.selectors.documents import document_get_readable
from kb.web.http import HtmxHttpRequest
from kb.web.pages import chat_page


@login_required
@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    """The chat page, with a new conversation."""
    return chat_page(request)


@login_required
@require_GET
def document_download(request: HttpRequest, document_id: int) -> FileResponse:
    """The original file, to readers of the document only; anyone else gets 404."""
    document = document_get_readable(user=request.user, document_id=document_id)
    if document is None or not document.file:
        raise Http404
    try:
        handle = document.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(
        handle,
        as_attachment=True,
        filename=document.source_filename.rsplit("/", 1)[-1],
        content_type=document.mime_type or "application/octet-stream",
    )


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Process is up. Readiness of each dependency is a separate check."""
    return JsonResponse({"status": "ok"})


# Errors Django answers before (or instead of) a REST framework view: an unknown path under the
# API, or an exception no view handled. API clients get the API's JSON error shape there too,
# and OpenAI clients OpenAI's (an endpoint Quarry lacks, such as /v1/embeddings, is a clean 404).
API_PREFIX = "/api/"
OPENAI_PREFIX = "/v1/"


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(OPENAI_PREFIX):
        return _openai_error(404, "not_found", "Not found.")
    if request.path.startswith(API_PREFIX):
        return _api_error(404, "not_found", "Not found.")
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 for unreadable requests; a body refused as too large (kb.request_limits)
    is a 413 that says why: JSON under the API, the upload notice for the manage page."""
    message = refusal_message(exception)
    if message is None:
        if request.path.startswith(API_PREFIX):
            return _api_error(400, "invalid", "The request could not be read.")
        return defaults.bad_request(request, exception)
    if request.path.startswith(API_PREFIX):
        return _api_error(413, "too_large", message)
    if request.headers.get("HX-Request"):
        return render(request, "manage/_upload_result.html", {"error": message}, status=413)
    return render(request, "413.html", {"message": message}, status=413)


def server_error(request: HttpRequest) -> HttpResponse:
    message = (
        "Something went wrong on our side. An administrator can find it in the logs by "
        "this response's X-Request-ID."
    )
    if request.path.startswith(OPENAI_PREFIX):
        return _openai_error(500, "server_error", message)
    if request.path.startswith(API_PREFIX):
        return _api_error(500, "server_error", message)
    return defaults.server_error(request)


def _api_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _openai_error(status: int, code: str, message: str) -> JsonResponse:
    body = error_object(message=message, code=code, status_code=status)
    return JsonResponse(body, status=status)
