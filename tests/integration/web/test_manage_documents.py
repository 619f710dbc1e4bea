"""Upload, live progress rows, retry and delete on the manage pages, and downloads; with real
files and embedded stores (the worker is not running: documents stay queued here)."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pytest_django.fixtures import Settings

from kb.models import Collection, Document, DocumentStatus
from tests.support.clients import signed_in_as
from tests.support.factories import CollectionFactory, DocumentFactory, GroupFactory, UserFactory

pytestmark = pytest.mark.integration
HTMX = {"HX-Request": "true"}


@pytest.fixture
def ops(db: None, stores: Path) -> Collection:
    editors = GroupFactory.create(name="ops-editors")
    return CollectionFactory.create(name="Ops", editor_groups=[editors])


@pytest.fixture
def editor(ops: Collection) -> Client:
    client = signed_in_as(UserFactory.create(username="olga", groups=ops.editor_groups.all()))
    return client


def upload_url(collection: Collection) -> str:
    return f"/manage/collections/{collection.pk}/upload"


def test_an_htmx_upload_queues_each_file_and_returns_the_polling_table(
    ops: Collection, editor: Client
) -> None:
    files = [SimpleUploadedFile("a.txt", b"First."), SimpleUploadedFile("b.md", b"# Second")]

    response = editor.post(upload_url(ops), {"files": files}, headers=HTMX)

    page = response.content.decode()
    documents = list(Document.objects.order_by("source_filename"))
    assert response.status_code == 200
    assert [(d.source_filename, d.status) for d in documents] == [
        ("a.txt", DocumentStatus.QUEUED),
        ("b.md", DocumentStatus.QUEUED),
    ]
    assert "Received 2 files (2 created); indexing started." in page
    assert '<section id="documents"' in page and 'hx-swap-oob="true"' in page
    ids = sorted(re.search(r"progress\?ids=([\d,]+)", page).group(1).split(","))  # type: ignore[union-attr]  # the page lists the ids; a miss fails the test
    assert ids == sorted(str(d.pk) for d in documents)
    assert 'hx-trigger="every 1s"' in page


def test_a_plain_form_upload_redirects_back_with_a_message(ops: Collection, editor: Client) -> None:
    response = editor.post(
        upload_url(ops), {"files": [SimpleUploadedFile("a.txt", b"x")]}, follow=True
    )

    assert response.redirect_chain == [(f"/manage/collections/{ops.pk}/", 302)]
    assert "Received 1 file (1 created); indexing started." in response.content.decode()


def test_a_zip_with_a_path_outside_it_is_refused_with_the_reason(
    ops: Collection, editor: Client
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil.txt", "bad")

    response = editor.post(
        upload_url(ops),
        {"files": [SimpleUploadedFile("evil.zip", buffer.getvalue())]},
        headers=HTMX,
    )

    assert response.status_code == 400
    assert "points outside the archive" in response.content.decode()
    assert not Document.objects.exists()


def test_an_oversized_file_is_refused_with_413_and_the_limit(
    ops: Collection, editor: Client, settings: Settings
) -> None:
    settings.KB_MAX_UPLOAD_MB = 1
    big = SimpleUploadedFile("big.txt", b"x" * (1024 * 1024 + 1))

    response = editor.post(upload_url(ops), {"files": [big]}, headers=HTMX)

    assert response.status_code == 413
    assert "the limit is 1 MB per file" in response.content.decode()
    assert not Document.objects.exists()


def test_an_upload_without_files_says_so(ops: Collection, editor: Client) -> None:
    response = editor.post(upload_url(ops), {}, headers=HTMX)

    assert response.status_code == 400
    assert "No files were uploaded" in response.content.decode()


def test_a_poll_returns_fresh_rows_and_stops_once_everything_settled(
    ops: Collection, editor: Client
) -> None:
    done = DocumentFactory.create(collection=ops, title="done", status=DocumentStatus.QUEUED)
    busy = DocumentFactory.create(collection=ops, title="busy", status=DocumentStatus.QUEUED)
    Document.objects.filter(pk=done.pk).update(status=DocumentStatus.INDEXED, chunk_count=3)
    Document.objects.filter(pk=busy.pk).update(
        status=DocumentStatus.PROCESSING, stage="embedding", progress=45
    )
    url = f"/manage/collections/{ops.pk}/progress?ids={done.pk},{busy.pk},999999"

    page = editor.get(url, headers=HTMX).content.decode()

    assert f'<tr id="doc-{done.pk}" class="doc doc-indexed"' in page
    assert "3 passages" in page
    assert re.search(rf'<tr id="doc-{busy.pk}"[^>]*hx-swap-oob="true"', page)
    assert "embedding" in page and 'aria-valuenow="45"' in page
    assert '<tr id="doc-999999" hx-swap-oob="delete">' in page
    assert f'progress?ids={busy.pk}"' in page

    Document.objects.filter(pk=busy.pk).update(status=DocumentStatus.INDEXED)
    settled = editor.get(f"/manage/collections/{ops.pk}/progress?ids={busy.pk}", headers=HTMX)

    assert 'data-polling="off"' in settled.content.decode()
    assert "hx-trigger" not in settled.content.decode().split("<tr")[0]


def test_retry_queues_a_failed_document_and_restarts_polling(
    ops: Collection, editor: Client, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    failed = DocumentFactory.create(
        collection=ops, title="broken", status=DocumentStatus.FAILED, error="No text found."
    )

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = editor.post(f"/manage/documents/{failed.pk}/retry", headers=HTMX)

    failed.refresh_from_db()
    page = response.content.decode()
    assert response.status_code == 200
    assert (failed.status, failed.error) == (DocumentStatus.QUEUED, "")
    assert len(callbacks) == 1  # the ingest task, enqueued after commit
    assert page.startswith(f'<tr id="doc-{failed.pk}"')
    assert f"progress?ids={failed.pk}" in page and 'id="doc-poller"' in page


def test_retry_leaves_a_settled_document_alone(ops: Collection, editor: Client) -> None:
    indexed = DocumentFactory.create(collection=ops, title="fine", status=DocumentStatus.INDEXED)

    editor.post(f"/manage/documents/{indexed.pk}/retry", headers=HTMX)

    indexed.refresh_from_db()
    assert indexed.status == DocumentStatus.INDEXED


def test_delete_removes_the_document_and_its_row(ops: Collection, editor: Client) -> None:
    document = DocumentFactory.create(collection=ops, title="old")

    response = editor.post(f"/manage/documents/{document.pk}/delete", headers=HTMX)

    assert response.status_code == 200 and response.content == b""
    assert not Document.objects.filter(pk=document.pk).exists()


def test_a_plain_form_delete_redirects_with_a_message(ops: Collection, editor: Client) -> None:
    document = DocumentFactory.create(collection=ops, title="old")

    response = editor.post(f"/manage/documents/{document.pk}/delete", follow=True)

    assert "Deleted old." in response.content.decode()


@pytest.fixture
def stored(db: None, stores: Path) -> Document:
    readers = GroupFactory.create(name="readers")
    collection = CollectionFactory.create(name="Docs", reader_groups=[readers])
    document = DocumentFactory.create(collection=collection, source_filename="guides/manual.txt")
    document.file.save("manual.txt", ContentFile("Привет, 世界".encode()), save=True)
    return document


@pytest.mark.parametrize(
    ("who", "expected"),
    [("reader", 200), ("staff", 200), ("outsider", 404), ("anonymous", 302)],
)
def test_download_serves_the_original_only_to_its_readers(
    stored: Document, who: str, expected: int
) -> None:
    client = Client()
    if who != "anonymous":
        user = UserFactory.create(
            username=who,
            is_staff=who == "staff",
            groups=list(stored.collection.reader_groups.all()) if who == "reader" else None,
        )
        client.force_login(user)

    response = client.get(f"/documents/{stored.pk}/download")

    assert response.status_code == expected
    if expected == 200:
        assert b"".join(response.streaming_content) == "Привет, 世界".encode()  # type: ignore[attr-defined]  # a FileResponse streams
        assert 'filename="manual.txt"' in response["Content-Disposition"]
