"""The admin's "Upload documents" page: files go in queued; a refused archive creates nothing."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from kb.models import Document, DocumentStatus
from tests.support.clients import signed_in_as
from tests.support.factories import CollectionFactory, UserFactory

pytestmark = pytest.mark.integration


@pytest.fixture
def admin_client(db: None, stores: Path) -> Client:
    client = signed_in_as(UserFactory.create(username="admin", is_staff=True, is_superuser=True))
    return client


def test_uploaded_files_are_queued_and_the_admin_sees_the_document_list(
    admin_client: Client,
) -> None:
    collection = CollectionFactory.create(name="Ops")
    files = [SimpleUploadedFile("a.txt", b"First."), SimpleUploadedFile("b.md", b"# Second")]

    response = admin_client.post(
        f"/admin/kb/collection/{collection.pk}/upload/", {"documents": files}
    )

    assert response.status_code == 302
    assert response["Location"].endswith(f"?collection__id__exact={collection.pk}")
    assert sorted(Document.objects.values_list("source_filename", "status")) == [
        ("a.txt", DocumentStatus.QUEUED),
        ("b.md", DocumentStatus.QUEUED),
    ]


def test_a_refused_archive_shows_why_and_creates_nothing(admin_client: Client) -> None:
    collection = CollectionFactory.create(name="Ops")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil.txt", "bad")
    upload = SimpleUploadedFile("evil.zip", buffer.getvalue())

    response = admin_client.post(
        f"/admin/kb/collection/{collection.pk}/upload/", {"documents": [upload]}, follow=True
    )

    assert b"points outside the archive" in response.content
    assert not Document.objects.exists()
