"""REST endpoints. Thin: authenticate, validate, call a selector or service, serialise.

Objects the caller may not read answer 404, exactly like objects that do not exist.
"""

from __future__ import annotations

from django.db import IntegrityError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kb import access
from kb.api.errors import ActionForbidden
from kb.api.serializers import (
    CollectionCreatedOut,
    CollectionIn,
    CollectionOut,
    DocumentListIn,
    DocumentOut,
    DocumentPageOut,
    MeOut,
    UploadedOut,
    UploadIn,
)
from kb.models import Collection, Document
from kb.selectors.collections import (
    collection_get_editable,
    collection_get_readable,
    collection_is_editable,
    collection_list_for_user,
)
from kb.selectors.documents import document_get_readable, document_list_readable
from kb.selectors.users import user_group_names
from kb.services.collections import UnknownGroups, collection_create, collection_delete
from kb.services.documents import document_delete, documents_add_uploads
from kb.uploads import Upload, UploadRejected


class UploadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


class QueueUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "queue_unavailable"


class MeApi(APIView):
    @extend_schema(responses=MeOut, summary="Who the token belongs to")
    def get(self, request: Request) -> Response:
        user = request.user
        groups = user_group_names(user=user)
        data = {"username": user.get_username(), "is_staff": user.is_staff, "groups": groups}
        return Response(MeOut(data).data)


class CollectionListApi(APIView):
    @extend_schema(responses=CollectionOut(many=True), summary="Collections you may read")
    def get(self, request: Request) -> Response:
        collections = collection_list_for_user(user=request.user)
        return Response({"results": CollectionOut(collections, many=True).data})

    @extend_schema(
        request=CollectionIn,
        responses={201: CollectionCreatedOut},
        summary="Create a collection (staff only; named groups must exist)",
    )
    def post(self, request: Request) -> Response:
        if not access.may_create_collections(request.user):
            raise ActionForbidden(access.ONLY_STAFF_CREATE)
        payload = CollectionIn(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            collection = collection_create(actor=request.user, **payload.validated_data)
        except IntegrityError:  # only staff get here, and staff see every collection
            raise exceptions.ValidationError(
                {"name": "A collection with this name exists."}
            ) from None
        except UnknownGroups as exc:
            raise exceptions.ValidationError({exc.field: str(exc)}) from None
        except access.AccessChangeRefused as exc:
            raise ActionForbidden(exc.message) from None
        return Response(CollectionCreatedOut(collection).data, status=status.HTTP_201_CREATED)


class CollectionApi(APIView):
    @extend_schema(
        responses={
            204: OpenApiResponse(
                description="Deleted: the collection, its documents, their passages in every "
                "index, their files (every version), the citations of them in conversations "
                "and the answers cached over them. A passage a store that is down still holds "
                "is removed when it is back (nothing of it can be found meanwhile)."
            ),
            403: OpenApiResponse(
                description="You edit this collection, but it holds documents you may not "
                "manage: only an administrator can delete it."
            ),
            404: OpenApiResponse(
                description="No such collection, or not one you edit (readers included)."
            ),
        },
        summary="Delete a collection you edit, with everything in it",
    )
    def delete(self, request: Request, collection_id: int) -> Response:
        collection = collection_get_editable(user=request.user, collection_id=collection_id)
        if collection is None:  # a reader may not delete: it is as missing as any other
            raise exceptions.NotFound()
        try:
            collection_delete(actor=request.user, collection=collection)
        except access.AccessChangeRefused as exc:
            raise ActionForbidden(exc.message) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class CollectionDocumentsApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        parameters=[DocumentListIn],
        responses=DocumentPageOut,
        summary="Documents of a collection you may read, oldest first, with their status",
    )
    def get(self, request: Request, collection_id: int) -> Response:
        wanted = DocumentListIn(data=request.query_params)
        wanted.is_valid(raise_exception=True)
        documents = document_list_readable(
            user=request.user,
            collection_id=collection_id,
            status=wanted.validated_data.get("status"),
        )
        if documents is None:
            raise exceptions.NotFound()
        start = wanted.validated_data["offset"]
        page = documents[start : start + wanted.validated_data["limit"]]
        return Response({"count": documents.count(), "results": DocumentOut(page, many=True).data})

    @extend_schema(
        request={"multipart/form-data": UploadIn},
        responses={202: UploadedOut(many=True)},
        summary="Upload files (several at once, or a .zip of a folder)",
    )
    def post(self, request: Request, collection_id: int) -> Response:
        collection = _editable_collection(request, collection_id)
        files = request.FILES.getlist("files")
        uploads = [Upload(name=f.name or "unnamed", stream=f, size=f.size or 0) for f in files]
        try:
            added = documents_add_uploads(
                collection=collection, uploads=uploads, uploader=request.user
            )
        except UploadRejected as exc:
            raise _rejection(exc) from None
        results = [{**DocumentOut(d).data, "outcome": outcome.value} for d, outcome in added]
        return Response(
            {"results": UploadedOut(results, many=True).data}, status=status.HTTP_202_ACCEPTED
        )


class DocumentApi(APIView):
    @extend_schema(responses=DocumentOut, summary="A document and its ingestion progress")
    def get(self, request: Request, document_id: int) -> Response:
        return Response(DocumentOut(_readable_document(request, document_id)).data)

    @extend_schema(responses={204: None}, summary="Delete a document from every store")
    def delete(self, request: Request, document_id: int) -> Response:
        document = _readable_document(request, document_id)
        if not collection_is_editable(user=request.user, collection_id=document.collection_id):
            raise ActionForbidden("You may read this document but not delete it.")
        document_delete(document=document)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _readable_document(request: Request, document_id: int) -> Document:
    document = document_get_readable(user=request.user, document_id=document_id)
    if document is None:
        raise exceptions.NotFound()
    return document


def _editable_collection(request: Request, collection_id: int) -> Collection:
    """Readers who cannot edit get 403 (they can see it anyway); everyone else 404."""
    collection = collection_get_readable(user=request.user, collection_id=collection_id)
    if collection is None:
        raise exceptions.NotFound()
    if not collection_is_editable(user=request.user, collection_id=collection_id):
        raise ActionForbidden("You may read this collection but not upload to it.")
    return collection


def _rejection(exc: UploadRejected) -> exceptions.APIException:
    if exc.status == status.HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        return UploadTooLarge(exc.message)
    if exc.status == status.HTTP_503_SERVICE_UNAVAILABLE:
        return QueueUnavailable(exc.message)
    return exceptions.ValidationError({"files": exc.message})
