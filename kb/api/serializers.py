from __future__ import annotations

from rest_framework import serializers

from kb.models import Document


class CollectionOut(serializers.Serializer[object]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    document_count = serializers.IntegerField()
    indexed_count = serializers.IntegerField()


class CollectionIn(serializers.Serializer[object]):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    reader_groups = serializers.ListField(
        child=serializers.CharField(max_length=150), required=False, default=list
    )
    editor_groups = serializers.ListField(
        child=serializers.CharField(max_length=150), required=False, default=list
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
