"""Manage pages: collections, their access, uploads and live ingestion progress.

Staff manage every collection, editors the collections they edit; everyone else gets 404 for
every URL here (kb.web.http.manager_required), and a collection or document outside the
user's reach answers 404 exactly like one that does not exist.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from django.contrib import messages
from django.db import IntegrityError
from django.http import Http404, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kb.access import (
    DELETE_NEEDS_EVERY_DOCUMENT,
    AccessChangeRefused,
    may_create_collections,
    may_delete_collection,
)
from kb.ids import MAX_ID
from kb.models import Collection, Document, DocumentStatus
from kb.selectors.collections import collection_get_for_manager, collection_list_for_manager
from kb.selectors.documents import (
    UNSETTLED,
    document_get_for_manager,
    document_ids_unsettled,
    document_list_for_manager,
)
from kb.services.collections import (
    UnknownGroups,
    collection_create,
    collection_delete,
    collection_set_access,
)
from kb.services.documents import AddOutcome, document_delete, document_retry, documents_add_uploads
from kb.uploads import Upload, UploadRejected
from kb.web.forms import AccessForm, CollectionForm
from kb.web.http import HtmxHttpRequest, manager_required

MAX_POLLED_IDS = 1000


@manager_required
@require_GET
def collection_list(request: HtmxHttpRequest) -> HttpResponse:
    collections = collection_list_for_manager(user=request.user)
    context = {"collections": collections, "may_create": may_create_collections(request.user)}
    return render(request, "manage/collections.html", context)


@manager_required
@require_http_methods(["GET", "POST"])
def collection_new(request: HtmxHttpRequest) -> HttpResponse:
    """Staff only; for an editor the page does not exist (404), like every page they may not
    use."""
    if not may_create_collections(request.user):
        raise Http404
    form = CollectionForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            collection = collection_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                reader_groups=form.group_names("reader_groups"),
                editor_groups=form.group_names("editor_groups"),
                open_to_all_authenticated=form.cleaned_data["open_to_all_authenticated"],
            )
        except IntegrityError:  # created by someone else since the form was validated
            form.add_error("name", "A collection with this name exists.")
        except (AccessChangeRefused, UnknownGroups) as exc:  # changed since it was validated
            form.add_error(exc.field, str(exc))
        else:
            messages.success(request, f"Created {collection.name}. Upload its documents here.")
            return HttpResponseRedirect(_detail_url(collection))
    status = 400 if form.errors else 200
    return render(request, "manage/collection_new.html", {"form": form}, status=status)


@manager_required
@require_http_methods(["GET", "POST"])
def collection_access(request: HtmxHttpRequest, collection_id: int) -> HttpResponse:
    collection = _collection_or_404(request, collection_id)
    initial = {
        "reader_groups": collection.reader_groups.all(),
        "editor_groups": collection.editor_groups.all(),
        "open_to_all_authenticated": collection.open_to_all_authenticated,
    }
    form = AccessForm(
        request.POST or None, initial=initial, user=request.user, collection=collection
    )
    if request.method == "POST" and form.is_valid():
        try:
            collection_set_access(
                actor=request.user,
                collection=collection,
                reader_groups=form.group_names("reader_groups"),
                editor_groups=form.group_names("editor_groups"),
                open_to_all_authenticated=form.cleaned_data["open_to_all_authenticated"],
            )
        except (AccessChangeRefused, UnknownGroups) as exc:  # changed since it was validated
            form.add_error(exc.field, str(exc))
        else:
            saved = f"Saved who may read {collection.name}; re-stamping its chunks."
            messages.success(request, saved)
            return HttpResponseRedirect(_detail_url(collection))
    context = {"form": form, "collection": collection}
    return render(
        request, "manage/collection_access.html", context, status=400 if form.errors else 200
    )


@manager_required
@require_http_methods(["GET", "POST"])
def collection_delete_view(request: HtmxHttpRequest, collection_id: int) -> HttpResponse:
    """GET asks to confirm, POST deletes (kb.services.collections.collection_delete). An editor
    whose collection holds documents narrowed away from them is told only an administrator can
    delete it, and nothing goes."""
    collection = _collection_or_404(request, collection_id)
    if request.method == "POST":
        try:
            collection_delete(actor=request.user, collection=collection)
        except AccessChangeRefused as exc:
            return _delete_page(request, collection, refusal=exc.message, status=403)
        messages.success(request, f"Deleted {collection.name}.")
        return HttpResponseRedirect(reverse("manage-collections"))
    allowed = may_delete_collection(request.user, collection=collection)
    refusal = None if allowed else DELETE_NEEDS_EVERY_DOCUMENT
    return _delete_page(request, collection, refusal=refusal, status=200)


def _delete_page(
    request: HtmxHttpRequest, collection: Collection, *, refusal: str | None, status: int
) -> HttpResponse:
    context = {"collection": collection, "refusal": refusal}
    return render(request, "manage/collection_delete.html", context, status=status)


@manager_required
@require_GET
def collection_detail(request: HtmxHttpRequest, collection_id: int) -> HttpResponse:
    collection = _collection_or_404(request, collection_id)
    context = {"collection": collection, **_documents_context(request, collection)}
    return render(request, "manage/collection.html", context)


@manager_required
@require_POST
def collection_upload(request: HtmxHttpRequest, collection_id: int) -> HttpResponse:
    collection = _collection_or_404(request, collection_id)
    files = request.FILES.getlist("files")
    uploads = [Upload(name=f.name or "unnamed", stream=f, size=f.size or 0) for f in files]
    try:
        added = documents_add_uploads(collection=collection, uploads=uploads, uploader=request.user)
    except UploadRejected as exc:
        return _upload_refused(request, collection, exc)
    summary = _upload_summary([outcome for _document, outcome in added])
    if not request.htmx:
        messages.success(request, summary)
        return HttpResponseRedirect(_detail_url(collection))
    context = {"summary": summary, "collection": collection, "oob": True}
    context |= _documents_context(request, collection)
    return render(request, "manage/_upload_result.html", context)


@manager_required
@require_GET
def collection_progress(request: HtmxHttpRequest, collection_id: int) -> HttpResponse:
    """One poll of the progress table: fresh rows for the documents the page shows as still
    working (out-of-band, by row id), and the next poller, which stops once all settled."""
    collection = _collection_or_404(request, collection_id)
    wanted = _polled_ids(request.GET)
    documents = document_list_for_manager(user=request.user, collection=collection)
    rows = list(documents.filter(pk__in=wanted))
    gone = sorted(wanted - {document.pk for document in rows})
    unsettled = document_ids_unsettled(user=request.user, collection=collection)
    context = {"collection": collection, "rows": rows, "gone": gone, "unsettled": unsettled}
    return render(request, "manage/_progress.html", context)


@manager_required
@require_POST
def document_retry_view(request: HtmxHttpRequest, document_id: int) -> HttpResponse:
    document = _document_or_404(request, document_id)
    if document.status == DocumentStatus.FAILED:
        document_retry(document=document)
    if not request.htmx:
        return HttpResponseRedirect(_detail_url(document.collection))
    collection = document.collection
    context = {
        "document": document,
        "collection": collection,
        "unsettled": document_ids_unsettled(user=request.user, collection=collection),
    }
    return render(request, "manage/_retried.html", context)


@manager_required
@require_POST
def document_delete_view(request: HtmxHttpRequest, document_id: int) -> HttpResponse:
    document = _document_or_404(request, document_id)
    collection = document.collection
    title = document.title
    document_delete(document=document)
    if not request.htmx:
        messages.success(request, f"Deleted {title}.")
        return HttpResponseRedirect(_detail_url(collection))
    return HttpResponse("")  # htmx swaps the row for nothing


def _collection_or_404(request: HtmxHttpRequest, collection_id: int) -> Collection:
    collection = collection_get_for_manager(user=request.user, collection_id=collection_id)
    if collection is None:
        raise Http404
    return collection


def _document_or_404(request: HtmxHttpRequest, document_id: int) -> Document:
    document = document_get_for_manager(user=request.user, document_id=document_id)
    if document is None:
        raise Http404
    return document


def _detail_url(collection: Collection) -> str:
    return reverse("manage-collection", args=[collection.pk])


def _documents_context(request: HtmxHttpRequest, collection: Collection) -> dict[str, object]:
    documents = list(document_list_for_manager(user=request.user, collection=collection))
    unsettled = [d.pk for d in documents if d.status in UNSETTLED]
    return {"documents": documents, "unsettled": unsettled}


def _polled_ids(query: QueryDict) -> set[int]:
    ids = [part for part in query.get("ids", "").split(",") if part.strip().isdigit()]
    return {n for n in map(int, ids[:MAX_POLLED_IDS]) if n <= MAX_ID}


def _upload_summary(outcomes: Sequence[AddOutcome]) -> str:
    counts = Counter(outcome.value.replace("_", " ") for outcome in outcomes)
    parts = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
    noun = "file" if len(outcomes) == 1 else "files"
    return f"Received {len(outcomes)} {noun} ({parts}); indexing started."


def _upload_refused(
    request: HtmxHttpRequest, collection: Collection, exc: UploadRejected
) -> HttpResponse:
    """Nothing was stored; the reason is shown where the upload was made, with its status."""
    if request.htmx:
        context = {"error": exc.message, "collection": collection}
        return render(request, "manage/_upload_result.html", context, status=exc.status)
    context = {"collection": collection, "upload_error": exc.message}
    context |= _documents_context(request, collection)
    return render(request, "manage/collection.html", context, status=exc.status)
