from django.contrib import admin

from kb.models import ApiToken, Collection, Document, Feedback, QueryLog


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin[Collection]):
    list_display = ["name", "open_to_all_authenticated", "created_at"]
    filter_horizontal = ["reader_groups", "editor_groups"]
    search_fields = ["name"]


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin[Document]):
    list_display = ["title", "collection", "status", "progress", "chunk_count", "updated_at"]
    list_filter = ["status", "collection"]
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
        "version",
        "size_bytes",
        "mime_type",
    ]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["key_hash", "prefix", "created_at", "last_used_at"]
    search_fields = ["user__username", "name", "prefix"]

    def has_add_permission(self, request: object) -> bool:
        return False  # tokens are created with `manage.py kb_user --token`, shown once


@admin.register(QueryLog)
class QueryLogAdmin(admin.ModelAdmin[QueryLog]):
    list_display = ["created_at", "pseudonym", "refused", "model", "template_version"]
    list_filter = ["refused", "model"]

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin[Feedback]):
    list_display = ["query_log", "rating", "created_at"]
    list_filter = ["rating"]
