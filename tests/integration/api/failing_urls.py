"""The site's own URLs and error handlers, plus one API route that fails like a bug would."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from kb.urls import handler404, handler500
from kb.urls import urlpatterns as site_urlpatterns

__all__ = ["handler404", "handler500", "urlpatterns"]


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug in a view")


urlpatterns = [path("api/v1/broken", broken), *site_urlpatterns]
