"""Request typing and the guard every manage page passes."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django_htmx.middleware import HtmxDetails

from kb import access


class HtmxHttpRequest(HttpRequest):
    """What HtmxMiddleware adds to every request (django-htmx's documented typing pattern)."""

    htmx: HtmxDetails


View = Callable[..., HttpResponse]


def manager_required(view: View) -> View:
    """Signed-out visitors go to the sign-in page; signed-in users who manage nothing get 404
    for every manage URL, before any method or object check, so that nothing is revealed."""

    @wraps(view)
    def guarded(request: HtmxHttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not access.may_manage(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return guarded


def is_analyst(user: object) -> bool:
    """Staff read the analytics page (the anonymised log is still about everyone's questions)."""
    return bool(
        getattr(user, "is_authenticated", False)
        and getattr(user, "is_active", False)
        and getattr(user, "is_staff", False)
    )


def staff_required(view: View) -> View:
    """Signed-out visitors go to the sign-in page; signed-in users who are not staff get 404."""

    @wraps(view)
    def guarded(request: HtmxHttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_analyst(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return guarded
