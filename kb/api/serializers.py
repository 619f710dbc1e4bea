from __future__ import annotations

from rest_framework import serializers

from kb.models import Document, DocumentStatus

# Pages start at most this far in: any larger offset would only ever be an empty page.
MAX_OFFSET = 2**31 - 1


class CollectionOut(serializers.Serializer[object]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    document_count = serializers.IntegerField()
    indexed_count = serializers.IntegerField()


class CollectionIn(serializers.Serializer[object]):
    """Staff only (kb.access.may_create_collections); groups must exist, none is created."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000
    )
    reader_groups = serializers.ListField(
        child=serializers.CharField(max_length=150), required=False, default=list, max_length=200
    )
    editor_groups = serializers.ListField(
        child=serializers.CharField(max_length=150), required=False, default=list, max_length=200
    )
    open_to_all_authenticated = serializers.BooleanField(required=False, default=False)


class CollectionCreatedOut(serializers.Serializer[object]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class DocumentOut(serializers.ModelSerializer[Document]):
    class Meta:
        model = Document
        fields = [
            "id",
            "title",
            "status",
            "progress",
            "stage",
            "error",
            "chunk_count",
            "page_count",
            "collection",
            "source_filename",
            "version",
            "created_at",
            "updated_at",
        ]


class DocumentListIn(serializers.Serializer[object]):
    status = serializers.ChoiceField(choices=DocumentStatus.values, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=100)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)


class DocumentPageOut(serializers.Serializer[object]):
    count = serializers.IntegerField(help_text="Documents matching, over all pages")
    results = DocumentOut(many=True)


class UploadedOut(serializers.Serializer[object]):
    id = serializers.IntegerField()
    title = serializers.CharField()
    source_filename = serializers.CharField()
    status = serializers.CharField()
    outcome = serializers.ChoiceField(choices=["created", "new_version", "unchanged"])


class UploadIn(serializers.Serializer[object]):
    files = serializers.ListField(child=serializers.FileField(), allow_empty=False)


class MeOut(serializers.Serializer[object]):
    username = serializers.CharField()
    is_staff = serializers.BooleanField()
    groups = serializers.ListField(child=serializers.CharField())


class CitationOut(serializers.Serializer[object]):
    n = serializers.IntegerField()
    document_id = serializers.IntegerField()
    title = serializers.CharField()
    page = serializers.IntegerField(allow_null=True)
    chunk_id = serializers.CharField()
    text = serializers.CharField()
    score = serializers.FloatField()


class QueryOut(serializers.Serializer[object]):
    query_id = serializers.IntegerField()
    answer = serializers.CharField()
    refused = serializers.BooleanField()
    check = serializers.ChoiceField(
        choices=["", "blocked", "ungrounded"],
        help_text="Empty: served as written. `blocked`: withheld, `answer` says so (it held a "
        "link, address or credentials request its sources lack). `ungrounded`: its citations "
        "do not support it; read the sources.",
    )
    citations = CitationOut(many=True)


class SearchResultOut(serializers.Serializer[object]):
    chunk_id = serializers.CharField()
    document_id = serializers.IntegerField()
    title = serializers.CharField()
    page = serializers.IntegerField(allow_null=True)
    section = serializers.CharField()
    text = serializers.CharField()
    score = serializers.FloatField()
    paths = serializers.ListField(child=serializers.CharField())


class SearchOut(serializers.Serializer[object]):
    results = SearchResultOut(many=True)


class FeedbackOut(serializers.Serializer[object]):
    query_id = serializers.IntegerField()
    rating = serializers.CharField()
