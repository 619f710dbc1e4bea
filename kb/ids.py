"""Object ids in request bodies and query strings: bounded to what the database can hold.

Ids are BigAutoField (signed 64-bit). Django answers an exact lookup beyond that range with
"no such row" (ids in URL paths are safe), but `pk__in`, slicing and the serializers' numbers
reach SQLite as OverflowError and PostgreSQL as DataError: a 500 instead of a 400 or 404.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

MAX_ID = 2**63 - 1


class IdField(serializers.IntegerField):
    """An object id: 1 to MAX_ID, so that no number reaches the database as an overflow."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)
