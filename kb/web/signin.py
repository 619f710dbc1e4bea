"""The page a locked-out sign-in gets (django-axes calls `lockout_response`, AXES_LOCKOUT_CALLABLE),
and the name axes counts a sign-in's failures under (`throttled_username`,
AXES_USERNAME_CALLABLE).

It says what happened and for how long, the same for a wrong and a right password, and does
not say whether the account exists: the limit counts failures per name and per address alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from kb.services.users import signin_name

LOCKED_OUT_STATUS = 429


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: object = None
) -> HttpResponse:
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    context = {"cooloff_minutes": minutes}
    return render(request, "registration/locked_out.html", context, status=LOCKED_OUT_STATUS)


def throttled_username(request: HttpRequest, credentials: Mapping[str, Any] | None) -> Any:
    """The typed name without regard to case or runs of spaces: a directory matches `uid` so
    (`mia`, `Mia` and `MIA ` are one person there), and each spelling must not get a failure
    budget of its own. Local names that differ only in case share one; nothing else changes."""
    field = getattr(settings, "AXES_USERNAME_FORM_FIELD", "username")  # set by axes.conf
    if credentials:
        name = credentials.get(field)
    else:
        name = getattr(request, "data", request.POST).get(field)
    if not isinstance(name, str):
        return name
    return signin_name(name)
