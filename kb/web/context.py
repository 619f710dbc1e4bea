"""Template context every page gets: what the navigation shows."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest

from kb import access
from kb.web.http import is_analyst


def navigation(request: HttpRequest) -> dict[str, Callable[[], bool]]:
    """A callable, so the query runs only on pages that render the navigation."""
    return {
        "nav_may_manage": lambda: access.may_manage(request.user),
        "nav_may_analyse": lambda: is_analyst(request.user),
    }
