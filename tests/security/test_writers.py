"""Writers bound by the readers' policy (issue 11, "Writers must not reach what they cannot read").

The attacker is erin, an editor of Engineering (group eng-editors). Engineering holds a document
narrowed to the group eng, which erin is not in: she must never learn its id, title or file name,
and nothing she uploads may change its content or version for its real readers (bob, staff).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from ingestion.tasks import ingest_document_task
from kb.models import Collection, Document
from kb.services.api_tokens import api_token_create
from kb.services.documents import AddOutcome, document_add, document_delete
from kb.uploads import IncomingFile
from tests.support import samples
from tests.support.clients import api_client, signed_in, signed_in_as
from tests.support.factories import DocumentFactory
from tests.support.personas import World

pytestmark = pytest.mark.unit

HIDDEN_TEXT = b"Salary bands 2026: a senior engineer earns 91,000 a year."
HIDDEN_NAME = "salary-bands.txt"
HIDDEN_TITLE = "Confidential pay scale"


@pytest.fixture
def hidden(world: World, stores: Path) -> Document:
    """An indexed document of Engineering readable only by the group eng (bob), with its file."""
    document = DocumentFactory.create(
        title=HIDDEN_TITLE,
        source_filename=HIDDEN_NAME,
        collection=world.collections["eng"],
        sha256=hashlib.sha256(HIDDEN_TEXT).hexdigest(),
        size_bytes=len(HIDDEN_TEXT),
        version=1,
        indexed_version=1,
        reader_groups=[Group.objects.get(name="eng")],
    )
    document.file.save(HIDDEN_NAME, ContentFile(HIDDEN_TEXT))
    return document


def api_upload(
    world: World, persona: str, name: str, data: bytes
) -> tuple[int, str, dict[str, Any]]:
    collection = world.collections["eng"]
    response = api_client(world, persona).post(
        f"/api/v1/collections/{collection.pk}/documents",
        {"files": [SimpleUploadedFile(name, data)]},
        format="multipart",
    )
    return response.status_code, response.content.decode(), response.json()


def assert_untouched(hidden: Document) -> None:
    """The hidden document's readers still get exactly what was there: same version, content."""
    row = Document.objects.get(pk=hidden.pk)
    assert (row.version, row.indexed_version, row.title) == (1, 1, HIDDEN_TITLE)
    assert row.sha256 == hashlib.sha256(HIDDEN_TEXT).hexdigest()
    with row.file.open("rb") as handle:
        assert handle.read() == HIDDEN_TEXT


def assert_reveals_nothing(body: str, hidden: Document, *, file_name: bool = True) -> None:
    assert HIDDEN_TITLE not in body
    assert not file_name or HIDDEN_NAME not in body
    assert f'"id":{hidden.pk},' not in body.replace(" ", "")


# --- deduplication and versioning ---------------------------------------------------------------


def test_an_editor_uploading_a_hidden_documents_content_learns_nothing(
    world: World, hidden: Document
) -> None:
    status, body, data = api_upload(world, "eng_editor", "my-guess.txt", HIDDEN_TEXT)

    assert status == 202
    [result] = data["results"]
    assert result["outcome"] == "created" and result["id"] != hidden.pk
    assert_reveals_nothing(body, hidden)
    assert_untouched(hidden)


def test_an_editor_reusing_a_hidden_documents_file_name_makes_a_separate_document(
    world: World, hidden: Document
) -> None:
    status, body, data = api_upload(world, "eng_editor", HIDDEN_NAME, b"Everyone earns 1,000,000.")

    assert status == 202
    [result] = data["results"]
    assert result["outcome"] == "created" and result["id"] != hidden.pk
    assert HIDDEN_TITLE not in body
    assert_untouched(hidden)


def test_the_manage_page_does_not_say_unchanged_or_new_version_for_a_hidden_document(
    world: World, hidden: Document
) -> None:
    collection = world.collections["eng"]
    client = signed_in(world, "eng_editor")
    url = f"/manage/collections/{collection.pk}/upload"

    same_content = client.post(
        url, {"files": [SimpleUploadedFile("x.txt", HIDDEN_TEXT)]}, HTTP_HX_REQUEST="true"
    )
    same_name = client.post(
        url, {"files": [SimpleUploadedFile(HIDDEN_NAME, b"Other text.")]}, HTTP_HX_REQUEST="true"
    )

    for response in (same_content, same_name):
        body = response.content.decode()
        assert response.status_code == 200
        assert "(1 created)" in body and "unchanged" not in body and "new version" not in body
        assert HIDDEN_TITLE not in body
    assert_untouched(hidden)


@pytest.mark.parametrize("persona", ["staff"])
def test_a_writer_who_may_read_the_document_still_re_versions_it(
    world: World, hidden: Document, persona: str
) -> None:
    """The control: matching works for those who can see the match."""
    _status, _body, same = api_upload(world, persona, "copy.txt", HIDDEN_TEXT)
    _status, _body, renamed = api_upload(world, persona, HIDDEN_NAME, b"New bands: 95,000.")

    assert (same["results"][0]["outcome"], same["results"][0]["id"]) == ("unchanged", hidden.pk)
    assert renamed["results"][0]["outcome"] == "new_version"
    assert Document.objects.get(pk=hidden.pk).version == 2


# --- creating collections and widening readers ---------------------------------------------------


def group_id(name: str) -> int:
    return Group.objects.get(name=name).pk


def create_over_api(world: World, persona: str, body: dict[str, Any]) -> tuple[int, str]:
    response = api_client(world, persona).post("/api/v1/collections", body, format="json")
    return response.status_code, response.content.decode()


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Mine", "reader_groups": ["hr"]},
        {"name": "Mine", "open_to_all_authenticated": True},
        {"name": "Mine", "reader_groups": ["brand-new-group"]},
        {"name": "Mine", "editor_groups": ["eng-editors"]},
    ],
    ids=["for-another-group", "open-to-everyone", "inventing-a-group", "for-their-own-group"],
)
def test_an_editor_cannot_create_a_collection_over_the_api(
    world: World, body: dict[str, Any]
) -> None:
    status, text = create_over_api(world, "eng_editor", body)

    assert status == 403 and "Only administrators create collections." in text
    assert not Collection.objects.filter(name="Mine").exists()
    assert not Group.objects.filter(name="brand-new-group").exists()


def test_refusing_an_editor_says_nothing_about_which_names_exist(world: World) -> None:
    """HR exists but erin cannot see it: asking for it and for a free name look the same."""
    taken = create_over_api(world, "eng_editor", {"name": "HR"})
    free = create_over_api(world, "eng_editor", {"name": "Unused name"})

    assert taken == free


def test_staff_naming_an_unknown_group_get_400_and_no_group_is_created(world: World) -> None:
    status, text = create_over_api(
        world, "staff", {"name": "Legal", "reader_groups": ["hr", "legal-typo"]}
    )

    assert status == 400 and "legal-typo" in text
    assert not Group.objects.filter(name="legal-typo").exists()
    assert not Collection.objects.filter(name="Legal").exists()


def test_staff_create_collections_for_any_group_and_open_ones(world: World) -> None:
    body = {"name": "Legal", "reader_groups": ["hr"], "open_to_all_authenticated": True}

    status, _text = create_over_api(world, "staff", body)

    legal = Collection.objects.get(name="Legal")
    assert status == 201 and legal.open_to_all_authenticated
    assert list(legal.reader_groups.values_list("name", flat=True)) == ["hr"]


def post_access(world: World, persona: str, collection: Collection, **form: Any) -> int:
    response = signed_in(world, persona).post(f"/manage/collections/{collection.pk}/access", form)
    return response.status_code


def readers_of(collection: Collection) -> set[str]:
    return set(collection.reader_groups.values_list("name", flat=True))


def test_an_editor_cannot_give_read_access_to_a_group_they_are_not_in(world: World) -> None:
    eng = world.collections["eng"]
    editors = [group_id("eng-editors")]

    status = post_access(
        world, "eng_editor", eng, reader_groups=[group_id("hr")], editor_groups=editors
    )

    assert status == 400
    assert readers_of(eng) == {"eng"}


def test_an_editor_cannot_open_a_collection_to_everyone(world: World) -> None:
    eng = world.collections["eng"]

    status = post_access(
        world,
        "eng_editor",
        eng,
        editor_groups=[group_id("eng-editors")],
        open_to_all_authenticated="on",
    )

    assert status == 400
    eng.refresh_from_db()
    assert not eng.open_to_all_authenticated


def test_groups_outside_an_editors_membership_keep_their_access(world: World) -> None:
    """The form lists only erin's groups: saving it must not drop eng, which it never showed."""
    eng = world.collections["eng"]
    eng.reader_groups.add(Group.objects.get(name="eng-editors"))
    editors = [group_id("eng-editors")]

    status = post_access(world, "eng_editor", eng, reader_groups=[], editor_groups=editors)

    assert status == 302
    assert readers_of(eng) == {"eng"}  # her own group went, the others stayed


def test_the_access_form_lists_an_editor_only_their_own_groups(world: World) -> None:
    eng = world.collections["eng"]

    editor_page = signed_in(world, "eng_editor").get(f"/manage/collections/{eng.pk}/access")
    staff_page = signed_in(world, "staff").get(f"/manage/collections/{eng.pk}/access")

    listed = {choice[1] for choice in editor_page.context["form"].fields["reader_groups"].choices}
    assert listed == {"eng-editors"}
    assert ">hr-leads<" not in editor_page.content.decode()
    assert ">hr-leads<" in staff_page.content.decode()


def test_an_editors_manage_list_offers_no_new_collection(world: World) -> None:
    page = signed_in(world, "eng_editor").get("/manage/").content.decode()

    assert "New collection" not in page
    assert "New collection" in signed_in(world, "staff").get("/manage/").content.decode()


# --- a batch that fails part way ------------------------------------------------------------------


def stored_files(media: Path) -> list[Path]:
    return sorted(p for p in (media / "documents").rglob("*") if p.is_file())


def test_a_batch_failing_part_way_leaves_no_document_file_or_task_behind(
    world: World, stores: Path, django_capture_on_commit_callbacks: Any
) -> None:
    """The second file cannot be stored (its folder's place is taken by a file, as on a full or
    broken disk): the first, already written, must not stay behind as a document."""
    collection = world.collections["eng"]
    first, second = b"Rota: Alice on Monday.", b"Rota: Bob on Tuesday."
    sha_first, sha_second = (hashlib.sha256(data).hexdigest() for data in (first, second))
    assert sha_first[:2] != sha_second[:2]
    blocker = stores / "media" / "documents" / str(collection.pk) / sha_second[:2]
    blocker.parent.mkdir(parents=True)
    blocker.write_bytes(b"not a folder")
    before = set(Document.objects.values_list("pk", flat=True))
    client = api_client(world, "eng_editor")
    client.raise_request_exception = False

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            f"/api/v1/collections/{collection.pk}/documents",
            {"files": [SimpleUploadedFile("a.txt", first), SimpleUploadedFile("b.txt", second)]},
            format="multipart",
        )

    assert response.status_code >= 400
    assert set(Document.objects.values_list("pk", flat=True)) == before
    assert stored_files(stores / "media") == [blocker]
    assert callbacks == []  # no ingest task for anything of the request


# --- files of replaced versions ----------------------------------------------------------------


@pytest.mark.integration
def test_a_replaced_versions_file_is_deleted_once_the_new_version_is_indexed(
    world: World, stores: Path, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    """Old content must not linger on disk after nothing serves it any more; until the new
    version is indexed, the old one is still searchable and keeps its file."""
    collection, staff = world.collections["eng"], world.users["staff"]
    old_text = samples.text(tmp_path / "v1.txt", "Old rota: Alice covers Monday nights.")
    new_text = samples.text(tmp_path / "v2.txt", "New rota: Bob covers Monday nights.")
    v1, _ = document_add(
        collection=collection, incoming=IncomingFile("rota.txt", old_text), uploader=staff
    )
    assert ingest_document_task.apply(args=(v1.pk, 1)).get() == "indexed"
    old_file = Path(Document.objects.get(pk=v1.pk).file.path)

    v2, outcome = document_add(
        collection=collection, incoming=IncomingFile("rota.txt", new_text), uploader=staff
    )

    assert outcome == AddOutcome.NEW_VERSION and v2.pk == v1.pk
    assert old_file.exists()  # version 1 is still the searchable one
    assert ingest_document_task.apply(args=(v2.pk, 2)).get() == "indexed"
    assert not old_file.exists()
    new_file = Path(Document.objects.get(pk=v2.pk).file.path)
    assert new_file.read_text() == "New rota: Bob covers Monday nights."
    with django_capture_on_commit_callbacks(execute=True):  # the purge runs after commit
        document_delete(document=Document.objects.get(pk=v2.pk))
    assert stored_files(stores / "media") == []


# --- the admin, for staff made with `kb_user --staff` ---------------------------------------------


def admin_client(username: str, *options: str) -> Client:
    call_command("kb_user", username, *options, stdout=StringIO(), stderr=StringIO())
    return signed_in_as(get_user_model().objects.get(username=username))


def test_a_kb_user_staff_admin_manages_collections_documents_and_tokens(
    world: World, hidden: Document, django_capture_on_commit_callbacks: Any
) -> None:
    admin = admin_client("olga", "--staff")
    eng = world.collections["eng"]
    token, _text = api_token_create(user=world.users["engineer"])

    index = admin.get("/admin/").content.decode()
    pages = [
        "/admin/kb/collection/",
        "/admin/kb/collection/add/",
        f"/admin/kb/collection/{eng.pk}/change/",
        f"/admin/kb/collection/{eng.pk}/upload/",
        "/admin/kb/document/",
        f"/admin/kb/document/{hidden.pk}/change/",
        "/admin/kb/apitoken/",
        f"/admin/kb/apitoken/{token.pk}/change/",
    ]

    assert all(f"/admin/kb/{model}/" in index for model in ("collection", "document", "apitoken"))
    assert {url: admin.get(url).status_code for url in pages} == dict.fromkeys(pages, 200)
    created = admin.post("/admin/kb/collection/add/", {"name": "Legal", "description": ""})
    uploaded = admin.post(
        f"/admin/kb/collection/{eng.pk}/upload/",
        {"documents": [SimpleUploadedFile("notes.txt", b"Notes.")]},
    )
    with django_capture_on_commit_callbacks(execute=True):  # the purge runs after commit
        deleted = admin.post(f"/admin/kb/document/{hidden.pk}/delete/", {"post": "yes"})
    assert (created.status_code, uploaded.status_code, deleted.status_code) == (302, 302, 302)
    assert Collection.objects.get(name="Legal").slug == "legal"  # its model: quarry/legal
    assert eng.documents.filter(source_filename="notes.txt").exists()
    assert not Document.objects.filter(pk=hidden.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        gone = admin.post(f"/admin/kb/collection/{eng.pk}/delete/", {"post": "yes"})
    assert gone.status_code == 302
    assert not Collection.objects.filter(pk=eng.pk).exists()
    assert stored_files(Path(settings.MEDIA_ROOT)) == []  # the uploaded file went with it


@pytest.mark.parametrize("persona", ["eng_editor", "engineer", "no_groups"])
def test_users_who_are_not_staff_reach_nothing_in_the_admin(world: World, persona: str) -> None:
    client = signed_in(world, persona)
    eng = world.collections["eng"]

    for url in [
        "/admin/",
        "/admin/kb/collection/",
        f"/admin/kb/collection/{eng.pk}/upload/",
        "/admin/kb/document/",
        "/admin/kb/apitoken/",
    ]:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url


# --- the writers' persona matrix ------------------------------------------------------------------
# Every persona tries every write over the API and the manage page. Engineering is edited by
# eng_editor (erin) and read by engineer (bob); the hidden document is narrowed to bob's group.

SIGNED_OUT = ("deactivated_hr", "anonymous")
PERSONAS = ("staff", "eng_editor", "engineer", "hr_reader", "hr_lead", "no_groups", *SIGNED_OUT)
CAN_READ_HIDDEN = {"staff", "engineer"}
Action = Callable[[World, Document, str], Any]


def api_files(world: World, persona: str, name: str, data: bytes) -> Any:
    url = f"/api/v1/collections/{world.collections['eng'].pk}/documents"
    files = {"files": [SimpleUploadedFile(name, data)]}
    return api_client(world, persona).post(url, files, format="multipart")


def web_post(world: World, persona: str, url: str, data: dict[str, Any]) -> Any:
    return signed_in(world, persona).post(url, data)


def _failed(document: Document) -> Document:
    Document.objects.filter(pk=document.pk).update(status="failed", error="parser crashed")
    return document


def api_create(world: World, hidden: Document, persona: str) -> Any:
    return api_client(world, persona).post("/api/v1/collections", {"name": "New"}, format="json")


def api_upload_new(world: World, hidden: Document, persona: str) -> Any:
    return api_files(world, persona, "fresh.txt", b"A fresh note.")


def api_re_version(world: World, hidden: Document, persona: str) -> Any:
    return api_files(world, persona, "runbook.txt", b"Runbook, second edition.")


def api_re_version_hidden(world: World, hidden: Document, persona: str) -> Any:
    return api_files(world, persona, HIDDEN_NAME, b"Everyone earns 1M.")


def api_delete(world: World, hidden: Document, persona: str) -> Any:
    return api_client(world, persona).delete(f"/api/v1/documents/{world.documents['runbook'].pk}")


def api_delete_hidden(world: World, hidden: Document, persona: str) -> Any:
    return api_client(world, persona).delete(f"/api/v1/documents/{hidden.pk}")


def api_delete_collection(world: World, hidden: Document, persona: str) -> Any:
    return api_client(world, persona).delete(f"/api/v1/collections/{world.collections['eng'].pk}")


def web_create(world: World, hidden: Document, persona: str) -> Any:
    return web_post(world, persona, "/manage/collections/new", {"name": "New"})


def web_upload(world: World, hidden: Document, persona: str) -> Any:
    files = {"files": [SimpleUploadedFile("fresh.txt", b"A fresh note.")]}
    return web_post(
        world, persona, f"/manage/collections/{world.collections['eng'].pk}/upload", files
    )


def web_retry(world: World, hidden: Document, persona: str) -> Any:
    runbook = _failed(world.documents["runbook"])
    return web_post(world, persona, f"/manage/documents/{runbook.pk}/retry", {})


def web_retry_hidden(world: World, hidden: Document, persona: str) -> Any:
    return web_post(world, persona, f"/manage/documents/{_failed(hidden).pk}/retry", {})


def web_delete(world: World, hidden: Document, persona: str) -> Any:
    runbook = world.documents["runbook"]
    return web_post(world, persona, f"/manage/documents/{runbook.pk}/delete", {})


def web_delete_hidden(world: World, hidden: Document, persona: str) -> Any:
    return web_post(world, persona, f"/manage/documents/{hidden.pk}/delete", {})


def web_change_readers(world: World, hidden: Document, persona: str) -> Any:
    form = {"reader_groups": [], "editor_groups": [group_id("eng-editors")]}
    url = f"/manage/collections/{world.collections['eng'].pk}/access"
    return web_post(world, persona, url, form)


def web_delete_collection(world: World, hidden: Document, persona: str) -> Any:
    url = f"/manage/collections/{world.collections['eng'].pk}/delete"
    return web_post(world, persona, url, {})


ACTIONS: dict[str, Action] = {
    "api create": api_create,
    "api upload": api_upload_new,
    "api re-version": api_re_version,
    "api re-version hidden": api_re_version_hidden,
    "api delete": api_delete,
    "api delete hidden": api_delete_hidden,
    "api delete collection": api_delete_collection,
    "web create": web_create,
    "web upload": web_upload,
    "web retry": web_retry,
    "web retry hidden": web_retry_hidden,
    "web delete": web_delete,
    "web delete hidden": web_delete_hidden,
    "web change readers": web_change_readers,
    "web delete collection": web_delete_collection,
}


def _statuses(staff: int, editor: int, reader: int, other: int, signed_out: int) -> dict[str, int]:
    return {
        "staff": staff,
        "eng_editor": editor,
        "engineer": reader,
        "hr_reader": other,
        "hr_lead": other,
        "no_groups": other,
        "deactivated_hr": signed_out,
        "anonymous": signed_out,
    }


# What each persona gets: the API says 403 only to those who may already see the target
# (readers), 404 to everyone else; signed-out visitors get 401 (API) or the sign-in page (302).
# Deleting a collection is 404 to everyone who does not edit it, readers included, and 403 to
# erin, who edits Engineering but may not destroy the document hidden from her in it.
EXPECTED: dict[str, dict[str, int]] = {
    "api create": _statuses(201, 403, 403, 403, 401),
    "api upload": _statuses(202, 202, 403, 404, 401),
    "api re-version": _statuses(202, 202, 403, 404, 401),
    "api re-version hidden": _statuses(202, 202, 403, 404, 401),
    "api delete": _statuses(204, 204, 403, 404, 401),
    "api delete hidden": _statuses(204, 404, 403, 404, 401),
    "api delete collection": _statuses(204, 403, 404, 404, 401),
    "web create": _statuses(302, 404, 404, 404, 302),
    "web upload": _statuses(302, 302, 404, 404, 302),
    "web retry": _statuses(302, 302, 404, 404, 302),
    "web retry hidden": _statuses(302, 404, 404, 404, 302),
    "web delete": _statuses(302, 302, 404, 404, 302),
    "web delete hidden": _statuses(302, 404, 404, 404, 302),
    "web change readers": _statuses(302, 302, 404, 404, 302),
    "web delete collection": _statuses(302, 403, 404, 404, 302),
}
# Which successful writes reach the hidden document: only staff's.
TOUCHES_HIDDEN = {
    "api re-version hidden",
    "api delete hidden",
    "web retry hidden",
    "web delete hidden",
    "api delete collection",
    "web delete collection",
}
MATRIX = [(action, persona) for action in ACTIONS for persona in PERSONAS]


@pytest.mark.parametrize(("action", "persona"), MATRIX, ids=[f"{a}-{p}" for a, p in MATRIX])
def test_writers_matrix(world: World, hidden: Document, action: str, persona: str) -> None:
    response = ACTIONS[action](world, hidden, persona)

    assert response.status_code == EXPECTED[action][persona]
    if response.status_code == 302 and persona in SIGNED_OUT:
        assert response["Location"].startswith("/accounts/login/")
    if persona not in CAN_READ_HIDDEN:
        named_by_caller = action == "api re-version hidden"  # the file name is their own
        assert_reveals_nothing(response.content.decode(), hidden, file_name=not named_by_caller)
    if not (persona == "staff" and action in TOUCHES_HIDDEN):
        assert_untouched(hidden)


def test_the_matrix_outcomes_of_re_versioning(world: World, hidden: Document) -> None:
    """Staff re-version what they read; erin's same-named upload is a separate document."""
    by_staff = api_files(world, "staff", HIDDEN_NAME, b"Staff edit.").json()["results"][0]
    hidden.refresh_from_db()
    assert (by_staff["id"], by_staff["outcome"], hidden.version) == (hidden.pk, "new_version", 2)
    by_erin = api_files(world, "eng_editor", HIDDEN_NAME, b"Erin's edit.").json()["results"][0]
    assert by_erin["outcome"] == "created" and by_erin["id"] != hidden.pk
    runbook = api_files(world, "eng_editor", "runbook.txt", b"Second edition.").json()
    assert runbook["results"][0]["outcome"] == "new_version"


def test_a_hidden_document_and_a_missing_one_answer_the_same(
    world: World, hidden: Document
) -> None:
    client = api_client(world, "eng_editor")

    hidden_answer = client.delete(f"/api/v1/documents/{hidden.pk}")
    missing_answer = client.delete("/api/v1/documents/99999999")

    assert (hidden_answer.status_code, hidden_answer.json()) == (
        missing_answer.status_code,
        missing_answer.json(),
    )


@pytest.mark.parametrize("action", ["api delete collection", "web delete collection"])
def test_an_editor_cannot_delete_a_collection_holding_a_document_hidden_from_her(
    world: World, hidden: Document, action: str
) -> None:
    """Deleting Engineering would destroy the document narrowed to bob's group: erin hears that
    only an administrator can, and nothing of the collection goes, not even what she manages."""
    eng = world.collections["eng"]
    before = set(eng.documents.values_list("pk", flat=True))

    response = ACTIONS[action](world, hidden, "eng_editor")

    assert response.status_code == 403
    assert "only an administrator can delete it" in response.content.decode()
    assert Collection.objects.filter(pk=eng.pk).exists()
    assert set(eng.documents.values_list("pk", flat=True)) == before
    assert_untouched(hidden)
