"""REST endpoints. Thin: authenticate, validate, call a selector or service, serialise."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kb.api.serializers import CollectionOut, MeOut
from kb.selectors import collection_list_for_user


class MeApi(APIView):
    @extend_schema(responses=MeOut, summary="Who the token belongs to")
    def get(self, request: Request) -> Response:
        user = request.user
        groups = sorted(user.groups.values_list("name", flat=True))
        data = {"username": user.get_username(), "is_staff": user.is_staff, "groups": groups}
        return Response(MeOut(data).data)


class CollectionListApi(APIView):
    @extend_schema(responses=CollectionOut(many=True), summary="Collections you may read")
    def get(self, request: Request) -> Response:
        collections = collection_list_for_user(user=request.user)
        return Response({"results": CollectionOut(collections, many=True).data})
