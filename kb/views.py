"""Server-rendered pages. The chat and upload pages build on these (see the issues)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kb.selectors import collection_list_for_user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    collections = collection_list_for_user(user=request.user)
    return render(request, "home.html", {"collections": collections})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Process is up. Readiness of each dependency is a separate check."""
    return JsonResponse({"status": "ok"})
