"""The signed-in session for calls made by the pages, with CSRF failures said as such. Shared by
the REST API (settings: REST_FRAMEWORK) and the chat endpoints (kb.web.chat), so it belongs to
neither."""

from __future__ import annotations

from rest_framework import exceptions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request


class CsrfFailed(exceptions.APIException):
    """A 403 that says what happened: DRF's own CSRF error is a PermissionDenied, which the
    API's error handler answers as 404 (right for objects, confusing for a stale page or a
    forged form)."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "csrf_failed"
    default_detail = "The page is out of date (security token). Reload it and try again."


class SessionWithCsrf(SessionAuthentication):
    """A session request that fails CSRF is a 403 `csrf_failed`, never the 404 the API gives
    for objects the caller may not see."""

    def enforce_csrf(self, request: Request) -> None:
        try:
            super().enforce_csrf(request)
        except exceptions.PermissionDenied:
            raise CsrfFailed() from None
