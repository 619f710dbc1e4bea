"""Uploads through the REST API, indexed by a real Celery worker through the real broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from kb.models import Collection, Document, DocumentStatus
from kb.stores.factory import graph_store, vector_index
from kb.worker import EmbeddedWorker
from tests.support import samples
from tests.support.clients import api_client_as, api_upload, signed_in_as
from tests.support.factories import CollectionFactory, GroupFactory, UserFactory
from tests.support.waiting import poll_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def editors(transactional_db: None) -> Collection:
    group = GroupFactory.create(name="ops-editors")
    return CollectionFactory.create(name="Ops", editor_groups=[group])


def _editor(collection: Collection):
    return UserFactory.create(username="ed", groups=list(collection.editor_groups.all()))


def _wait(client: APIClient, document_id: int, timeout: float = 120) -> dict[str, Any]:
    settled = {DocumentStatus.INDEXED, DocumentStatus.FAILED}
    body: dict[str, Any] = poll_until(
        lambda: client.get(f"/api/v1/documents/{document_id}").json(),
        lambda answer: answer["status"] in settled,
        timeout=timeout,
    )
    assert body["status"] in settled, (
        f"document {document_id} still {body['status']} after {timeout}s"
    )
    return body


def test_several_files_and_a_zip_are_indexed_by_the_worker(
    worker: EmbeddedWorker, editors: Collection, tmp_path: Path
) -> None:
    client = api_client_as(_editor(editors))
    pdf = samples.text_pdf(tmp_path / "g.pdf", [("Backup", samples.BACKUP_TEXT * 4)])
    folder = samples.zip_of(
        tmp_path / "docs.zip",
        {
            "docs/mail.html": samples.html(tmp_path / "mail.html"),
            "docs/deploy.md": samples.markdown(tmp_path / "deploy.md"),
        },
    )

    response = api_upload(
        client, editors, ("g.pdf", pdf.read_bytes()), ("docs.zip", folder.read_bytes())
    )

    assert response.status_code == 202, response.json()
    results = response.json()["results"]
    assert sorted(r["source_filename"] for r in results) == [
        "docs/deploy.md",
        "docs/mail.html",
        "g.pdf",
    ]
    assert {r["status"] for r in results} == {"queued"}
    for result in results:
        body = _wait(client, result["id"])
        assert body["status"] == "indexed" and body["progress"] == 100, body
        assert body["chunk_count"] == vector_index().count(document_id=result["id"]) > 0
        assert set(body) >= {
            "id",
            "title",
            "status",
            "progress",
            "stage",
            "error",
            "chunk_count",
            "page_count",
        }


def test_a_bad_file_fails_with_its_reason_and_the_worker_keeps_going(
    worker: EmbeddedWorker, editors: Collection, tmp_path: Path
) -> None:
    client = api_client_as(_editor(editors))

    results = api_upload(
        client,
        editors,
        ("broken.pdf", b"%PDF-1.7 nothing here"),
        ("ok.txt", b"The worker survives bad files."),
    ).json()["results"]

    bodies = {r["source_filename"]: _wait(client, r["id"]) for r in results}
    assert bodies["broken.pdf"]["status"] == "failed"
    assert "damaged or not a PDF" in bodies["broken.pdf"]["error"]
    assert bodies["ok.txt"]["status"] == "indexed"
    assert worker.alive


def test_an_oversized_file_is_refused_with_413_naming_the_limit(
    editors: Collection, settings: Settings
) -> None:
    settings.KB_MAX_UPLOAD_MB = 1

    response = api_upload(
        api_client_as(_editor(editors)), editors, ("big.txt", b"x" * (1024 * 1024 + 1))
    )

    assert response.status_code == 413
    assert response.json()["error"]["message"] == "big.txt is 1.0 MB; the limit is 1 MB per file."
    assert not Document.objects.exists()


def test_a_zip_with_a_traversal_name_is_refused_and_creates_nothing(
    editors: Collection, tmp_path: Path
) -> None:
    import zipfile

    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", "fine")
        zf.writestr("../../etc/cron.d/evil", "bad")

    response = api_upload(
        api_client_as(_editor(editors)), editors, ("evil.zip", archive.read_bytes())
    )

    assert response.status_code == 400
    assert "points outside the archive" in response.json()["error"]["message"]
    assert not Document.objects.exists()


def test_readers_may_not_upload_and_strangers_do_not_see_the_collection(
    editors: Collection,
) -> None:
    readers = GroupFactory.create(name="ops-readers")
    editors.reader_groups.add(readers)
    reader = UserFactory.create(username="reader", groups=[readers])
    stranger = UserFactory.create(username="stranger")

    as_reader = api_upload(api_client_as(reader), editors, ("a.txt", b"text"))
    as_stranger = api_upload(api_client_as(stranger), editors, ("a.txt", b"text"))

    assert as_reader.status_code == 403
    assert as_stranger.status_code == 404
    assert as_stranger.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_documents_are_404_to_those_who_may_not_read_them_and_deletable_by_editors(
    worker: EmbeddedWorker, editors: Collection
) -> None:
    editor_client = api_client_as(_editor(editors))
    document_id = api_upload(editor_client, editors, ("a.txt", b"Delete me later."))
    document_id = document_id.json()["results"][0]["id"]
    _wait(editor_client, document_id)
    stranger = api_client_as(UserFactory.create(username="stranger"))

    assert stranger.get(f"/api/v1/documents/{document_id}").status_code == 404
    assert stranger.delete(f"/api/v1/documents/{document_id}").status_code == 404
    assert stranger.get("/api/v1/documents/999999").status_code == 404

    assert editor_client.delete(f"/api/v1/documents/{document_id}").status_code == 204
    assert editor_client.get(f"/api/v1/documents/{document_id}").status_code == 404
    assert vector_index().count(document_id=document_id) == 0
    assert graph_store().count_chunks(document_id=document_id) == 0


def test_staff_create_collections_and_plain_users_may_not(transactional_db: None) -> None:
    staff = api_client_as(UserFactory.create(username="admin", is_staff=True))
    plain = api_client_as(UserFactory.create(username="plain"))
    body = {"name": "HR", "reader_groups": ["hr", "hr-leads"]}
    for name in body["reader_groups"]:  # the API never creates groups
        GroupFactory.create(name=name)

    created = staff.post("/api/v1/collections", body, format="json")
    refused = plain.post("/api/v1/collections", {"name": "Mine"}, format="json")
    duplicate = staff.post("/api/v1/collections", body, format="json")

    assert created.status_code == 201
    collection = Collection.objects.get(pk=created.json()["id"])
    assert sorted(collection.reader_groups.values_list("name", flat=True)) == ["hr", "hr-leads"]
    assert refused.status_code == 403
    assert duplicate.status_code == 400


def test_changing_readers_restamps_the_chunks(worker: EmbeddedWorker, editors: Collection) -> None:
    from kb.access import CONSOLE, access_scope
    from kb.services.collections import collection_set_access

    editor_client = api_client_as(_editor(editors))
    document_id = api_upload(editor_client, editors, ("a.txt", b"Quarterly numbers.")).json()
    document_id = document_id["results"][0]["id"]
    _wait(editor_client, document_id)
    newcomer = UserFactory.create(username="new", groups=[GroupFactory.create(name="finance")])

    collection_set_access(actor=CONSOLE, collection=editors, reader_groups=["finance"])

    hits = poll_until(
        lambda: vector_index().query(scope=access_scope(newcomer), limit=10, dense=[1.0] * 384),
        bool,
        timeout=60,
    )
    assert [h.payload["document_id"] for h in hits] == [document_id]


def test_narrowing_a_documents_readers_in_the_admin_restamps_its_chunks(
    worker: EmbeddedWorker, editors: Collection
) -> None:

    from kb.access import access_scope

    ops = GroupFactory.create(name="ops")
    editors.reader_groups.add(ops)
    operator = UserFactory.create(username="op", groups=[ops])
    editor_client = api_client_as(_editor(editors))
    document_id = api_upload(editor_client, editors, ("a.txt", b"Night shift roster.")).json()
    document_id = document_id["results"][0]["id"]
    _wait(editor_client, document_id)
    assert vector_index().query(scope=access_scope(operator), limit=10, dense=[1.0] * 384)
    admin = signed_in_as(UserFactory.create(username="root", is_staff=True, is_superuser=True))
    leads = GroupFactory.create(name="leads")

    response = admin.post(
        f"/admin/kb/document/{document_id}/change/",
        {
            "collection": editors.pk,
            "title": "roster",
            "reader_groups": [leads.pk],
        },
    )

    assert response.status_code == 302, response.content[:2000]
    hits = poll_until(
        lambda: vector_index().query(scope=access_scope(operator), limit=10, dense=[1.0] * 384),
        lambda hits: not hits,
        timeout=60,
    )
    assert hits == []
