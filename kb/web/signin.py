"""The page a locked-out sign-in gets (django-axes calls `lockout_response`, AXES_LOCKOUT_CALLABLE).

It says what happened and for how long, the same for a wrong and a right password, and does
not say whether the account exists: the limit counts failures per name and per address alike.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

LOCKED_OUT_STATUS = 429


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: object = None
) -> HttpResponse:
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    context = {"cooloff_minutes": minutes}
    return render(request, "registration/locked_out.html", context, status=LOCKED_OUT_STATUS)
