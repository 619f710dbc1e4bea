from __future__ import annotations

from rest_framework import serializers


class CollectionOut(serializers.Serializer[object]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    document_count = serializers.IntegerField()
    indexed_count = serializers.IntegerField()


class MeOut(serializers.Serializer[object]):
    username = serializers.CharField()
    is_staff = serializers.BooleanField()
    groups = serializers.ListField(child=serializers.CharField())
