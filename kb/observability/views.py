"""`/readyz` and `/metrics`: for the load balancer and Prometheus, not for people.

Both answer callers on this machine (loopback) or holding `KB_METRICS_TOKEN` as a bearer
token; anyone else gets the same 404 as for a page that does not exist. `/healthz` (process up)
stays open and says nothing else.
"""

from __future__ import annotations

import hmac

import prometheus_client
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from kb.observability.metrics import serving_registry
from kb.observability.readiness import readiness

_LOOPBACK = {"127.0.0.1", "::1"}


def _trusted(request: HttpRequest) -> bool:
    token = settings.KB_METRICS_TOKEN
    if token:
        offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if hmac.compare_digest(offered.encode(), token.encode()):
            return True
    return request.META.get("REMOTE_ADDR") in _LOOPBACK


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    if not _trusted(request):
        raise Http404
    ready, checks = readiness()
    down = sorted(name for name, result in checks.items() if not result["ok"])
    body = {"status": "ready" if ready else "not ready", "down": down, "checks": checks}
    return JsonResponse(body, status=200 if ready else 503)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _trusted(request):
        raise Http404
    return HttpResponse(
        prometheus_client.generate_latest(serving_registry()),  # several web workers: merged
        content_type=prometheus_client.CONTENT_TYPE_LATEST,
    )
