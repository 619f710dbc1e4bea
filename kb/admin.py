"""Django admin: collections with an upload page, documents with retry, tokens, logs.

Staff (`manage.py kb_user NAME --staff`) manage collections, documents and tokens here because
kb.access says so (`may_administer`, `may_create_collections`), not through Django model
permissions, which that command does not hand out. Logs and feedback stay with superusers.
Only staff reach /admin/ at all, and staff may grant any access, so the access rules for
editors have nothing to refuse here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from kb import access
from kb.models import (
    ApiToken,
    Collection,
    Document,
    DocumentStatus,
    ExternalIdentity,
    Feedback,
    IdentitySource,
    PendingPurge,
    QueryLog,
)
from kb.services.collections import (
    collection_delete,
    collection_restamp_later,
    collection_slug,
)
from kb.services.documents import (
    document_delete,
    document_retry,
    documents_add_uploads,
    documents_delete,
    restamp_later,
)
from kb.uploads import Upload, UploadRejected


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """FileField cleans one file; with a multiple widget it receives a list and must clean each."""

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


class UploadForm(forms.Form):
    documents = MultipleFileField(
        widget=MultipleFileInput(attrs={"multiple": True}),
        help_text="Several files at once, or a .zip of a folder.",
    )


class StaffManagedAdmin(admin.ModelAdmin[Any]):
    """Permissions from kb.access instead of Django's per-model permissions."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return access.may_administer(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.may_administer(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.may_administer(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.may_administer(request.user)


@admin.register(Collection)
class CollectionAdmin(StaffManagedAdmin):
    list_display = ["name", "open_to_all_authenticated", "created_at"]
    filter_horizontal = ["reader_groups", "editor_groups"]
    # Bumped by the system, part of cached answers' key; and set once from the name, as
    # kb.services.collections.collection_create does, so a rename keeps model names working.
    readonly_fields = ["slug", "content_version"]
    search_fields = ["name"]
    change_form_template = "admin/kb/collection/change_form.html"

    def get_urls(self) -> list[URLPattern]:
        upload = self.admin_site.admin_view(self.upload_view)
        return [path("<int:pk>/upload/", upload, name="kb_collection_upload"), *super().get_urls()]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return access.may_create_collections(request.user)

    def save_model(self, request: HttpRequest, obj: Collection, form: Any, change: bool) -> None:
        if not change:
            obj.slug = collection_slug(name=obj.name)
        super().save_model(request, obj, form, change)

    def delete_model(self, request: HttpRequest, obj: Collection) -> None:
        collection_delete(actor=request.user, collection=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Collection]) -> None:
        for collection in queryset:
            collection_delete(actor=request.user, collection=collection)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if change:  # reader groups may have changed: re-stamp every chunk of the collection
            collection_restamp_later(collection=form.instance)

    def upload_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        collection = get_object_or_404(Collection, pk=pk)
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            return self._handle_upload(request, collection)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "collection": collection,
            "opts": self.model._meta,
            "title": f"Upload documents to {collection.name}",
        }
        return TemplateResponse(request, "admin/kb/collection/upload.html", context)

    def _handle_upload(self, request: HttpRequest, collection: Collection) -> HttpResponse:
        files = request.FILES.getlist("documents")
        uploads = [Upload(name=f.name or "unnamed", stream=f, size=f.size or 0) for f in files]
        try:
            added = documents_add_uploads(
                collection=collection, uploads=uploads, uploader=request.user
            )
        except UploadRejected as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(request.path)
        outcomes = [outcome for _document, outcome in added]
        counts = {o.value: outcomes.count(o) for o in set(outcomes)}
        summary = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in sorted(counts.items()))
        messages.success(request, f"Received {len(outcomes)} files ({summary}); indexing started.")
        changelist = reverse("admin:kb_document_changelist")
        return HttpResponseRedirect(f"{changelist}?collection__id__exact={collection.pk}")


@admin.register(Document)
class DocumentAdmin(StaffManagedAdmin):
    list_display = [
        "title",
        "collection",
        "status",
        "stage",
        "progress",
        "chunk_count",
        "flagged_chunks",
        "error",
        "updated_at",
    ]
    list_filter = ["status", "collection", "embed_model"]  # stale vectors: see kb_reindex
    search_fields = ["title", "source_filename", "sha256"]
    filter_horizontal = ["reader_groups"]
    readonly_fields = [
        "sha256",
        "status",
        "stage",
        "progress",
        "error",
        "page_count",
        "chunk_count",
        "flagged_chunks",
        "version",
        "indexed_version",
        "embed_model",
        "size_bytes",
        "mime_type",
        "file",
        "source_filename",
        "superseded_files",
    ]
    actions = ["retry_failed"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # documents come in through the collection's upload page or the API

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if change:
            restamp_later(form.instance.pk)

    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        document_delete(document=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        documents_delete(documents=queryset)

    @admin.action(description="Retry the selected failed documents")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        failed = list(queryset.filter(status=DocumentStatus.FAILED))
        for document in failed:
            document_retry(document=document)
        self.message_user(request, f"Queued {len(failed)} documents again.")


@admin.register(PendingPurge)
class PendingPurgeAdmin(StaffManagedAdmin):
    """Deleted documents whose chunks or files a store outage kept: the sweep retries them every
    5 minutes (ingestion.purge). Read-only: a row goes once the purge succeeds."""

    list_display = ["document_id", "collection_id", "created_at", "attempts", "last_error"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deleting the row would forget chunks and files still to be removed


@admin.register(ApiToken)
class ApiTokenAdmin(StaffManagedAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["key_hash", "prefix", "created_at", "last_used_at"]
    search_fields = ["user__username", "name", "prefix"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are created with `manage.py kb_user --token`, shown once


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(StaffManagedAdmin):
    """Which accounts came from single sign-on or the directory, and when their groups were
    last copied from there; a user missing here is a local account. Read-only: the source
    writes these rows (kb.services.identities)."""

    list_display = ["user", "source", "subject", "groups_synced_at"]
    list_filter = ["source"]
    search_fields = ["user__username", "subject"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class QuarryUserAdmin(UserAdmin[User]):
    """Django's user admin with where each account came from beside its name."""

    list_display = ("username", "email", "is_staff", "is_active", "identity_source")
    list_select_related = ["external_identity"]

    @admin.display(description="identity source")
    def identity_source(self, user: User) -> str:
        identity = getattr(user, "external_identity", None)
        source = identity.source if identity else IdentitySource.LOCAL
        return str(IdentitySource(source).label)


admin.site.unregister(User)
admin.site.register(User, QuarryUserAdmin)


@admin.register(QueryLog)
class QueryLogAdmin(admin.ModelAdmin[QueryLog]):
    list_display = [
        "created_at",
        "pseudonym",
        "refused",
        "refusal",
        "answer_check",
        "model",
        "template_version",
    ]
    list_filter = ["refused", "refusal", "answer_check", "model"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin[Feedback]):
    list_display = ["query_log", "rating", "created_at"]
    list_filter = ["rating"]
