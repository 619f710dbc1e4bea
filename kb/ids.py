"""Object ids in request bodies and query strings: bounded to what the database can hold.

Ids are BigAutoField (signed 64-bit). Django answers an exact lookup beyond that range with
"no such row" (ids in URL paths are safe), but `pk__in`, slicing and the serializers' numbers
reach SQLite as OverflowError and PostgreSQL as DataError: a 500 instead of a 400 or 404.
"""

from __future__ import annotations

MAX_ID = 2**63 - 1
