"""Bad input from the attacker's side: an editor uploads broken or hostile files and bodies,
anyone sends numbers the database cannot hold, paths leak through error messages. Each gets a
clear 4xx in the API's JSON error shape (or a clear message on the manage page), never a 500,
and a refused request leaves nothing behind."""

from __future__ import annotations

import asyncio
import html
import io
import json
import struct
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from ingestion.pipeline import ingest_document
from kb.models import Collection, Document
from tests.support.clients import api_client_as, api_upload, signed_in_as
from tests.support.factories import CollectionFactory, GroupFactory, UserFactory
from tests.support.paths import ROOT

pytestmark = pytest.mark.integration
HTMX = {"HX-Request": "true"}
LOCAL_HEADER = b"PK\x03\x04"
CENTRAL_HEADER = b"PK\x01\x02"


@pytest.fixture
def ops(db: None, stores: Path) -> Collection:
    editors = GroupFactory.create(name="ops-editors")
    return CollectionFactory.create(name="Ops", editor_groups=[editors])


@pytest.fixture
def editor(ops: Collection) -> Any:
    return UserFactory.create(username="mallory", groups=list(ops.editor_groups.all()))


@pytest.fixture
def api(editor: Any) -> APIClient:
    return api_client_as(editor)


def _stored_files(stores: Path) -> list[Path]:
    return [p for p in (stores / "media").rglob("*") if p.is_file()]


def _zip(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return buffer.getvalue()


def _patch_headers(
    archive: bytes, *, local: tuple[int, bytes], central: tuple[int, bytes]
) -> bytes:
    """Overwrite a field of the first entry in both its local and its central header, as a
    hand-made (or hostile) archiver would have written it."""
    data = bytearray(archive)
    for signature, (offset, value) in ((LOCAL_HEADER, local), (CENTRAL_HEADER, central)):
        start = data.index(signature) + offset
        data[start : start + len(value)] = value
    return bytes(data)


def _empty_name() -> bytes:
    return _zip({"ok.txt": b"fine", "": b"nameless"})


def _encrypted() -> bytes:
    flags = struct.pack("<H", 0x1)  # "encrypted, password required"
    return _patch_headers(_zip({"secret.txt": b"hello"}), local=(6, flags), central=(8, flags))


def _deflate64() -> bytes:
    method = struct.pack("<H", 9)  # compression method 9: deflate64, which zipfile cannot read
    return _patch_headers(_zip({"doc.txt": b"hello"}), local=(8, method), central=(10, method))


def _bad_crc() -> bytes:
    archive = _zip({"doc.txt": b"hello world"})
    return archive.replace(b"hello world", b"jello world", 1)


def _corrupt_central_directory() -> bytes:
    archive = bytearray(_zip({"doc.txt": b"hello world"}))
    start = archive.index(CENTRAL_HEADER)
    archive[start : start + 4] = b"XXXX"  # the end record still points here: is_zipfile says yes
    return bytes(archive)


def _claims_smaller() -> bytes:
    size = struct.pack("<I", 3)  # the header says 3 bytes; 11 follow
    return _patch_headers(_zip({"doc.txt": b"hello world"}), local=(22, size), central=(24, size))


def _claims_larger() -> bytes:
    size = struct.pack("<I", 20)  # the header says 20 bytes; 11 follow (CRC of the 11 is right)
    return _patch_headers(_zip({"doc.txt": b"hello world"}), local=(22, size), central=(24, size))


def _not_a_zip() -> bytes:
    return b"this is not an archive at all"


BAD_ARCHIVES: dict[str, Callable[[], bytes]] = {
    "empty-entry-name": _empty_name,
    "encrypted-entry": _encrypted,
    "deflate64": _deflate64,
    "bad-crc": _bad_crc,
    "corrupt-central-directory": _corrupt_central_directory,
    "size-claims-smaller": _claims_smaller,
    "size-claims-larger": _claims_larger,
    "not-a-zip-at-all": _not_a_zip,
}


@pytest.mark.parametrize("build", BAD_ARCHIVES.values(), ids=BAD_ARCHIVES.keys())
def test_a_broken_archive_is_a_400_in_the_json_shape_and_stores_nothing(
    ops: Collection, api: APIClient, stores: Path, build: Callable[[], bytes]
) -> None:
    response = api_upload(api, ops, ("first.txt", b"A good file first."), ("bad.zip", build()))

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["message"].startswith("files: ")
    assert str(stores) not in error["message"] and "quarry-upload-" not in error["message"]
    assert not Document.objects.exists()
    assert _stored_files(stores) == []


def test_a_broken_archive_on_the_manage_page_says_why_and_stores_nothing(
    ops: Collection, editor: Any, stores: Path
) -> None:
    client = signed_in_as(editor)
    files = [SimpleUploadedFile("bad.zip", _deflate64())]

    response = client.post(f"/manage/collections/{ops.pk}/upload", {"files": files}, headers=HTMX)

    assert response.status_code == 400
    assert "Nothing was uploaded: doc.txt is compressed with deflate64" in response.content.decode()
    assert not Document.objects.exists()


@pytest.mark.parametrize(
    ("name", "in_zip"),
    [("年度报告" * 40 + ".md", False), ("r" * 300 + ".txt", True), ("x" * 700 + ".txt", True)],
    ids=["160-cjk-chars-480-bytes", "300-chars-in-an-archive", "longer-than-the-name-column"],
)
def test_a_file_name_longer_than_the_file_system_allows_is_stored_under_a_short_name(
    ops: Collection, api: APIClient, stores: Path, name: str, in_zip: bool
) -> None:
    """Django keeps 255 characters of a multipart file name; archive entries keep all of
    theirs. Either may be more bytes than a file system allows in one name."""
    body = b"Quarterly numbers, in words."
    upload = ("reports.zip", _zip({name: body})) if in_zip else (name, body)

    response = api_upload(api, ops, upload)

    assert response.status_code == 202, response.content
    document = Document.objects.get()
    stem, suffix = name.rsplit(".", 1)
    kept = name if len(name) <= 500 else stem[:496] + "." + suffix  # what the column holds
    assert document.source_filename == kept
    assert document.title == kept.rsplit(".", 1)[0]
    (stored,) = _stored_files(stores)
    assert len(stored.name.encode()) <= 255 and stored.suffix == "." + suffix
    assert stored.read_bytes() == body


def test_more_files_than_the_limit_in_one_request_are_refused(
    ops: Collection, api: APIClient, stores: Path, settings: Settings
) -> None:
    settings.KB_MAX_UPLOAD_FILES = 3
    files = [(f"f{n}.txt", f"file {n}".encode()) for n in range(4)]

    response = api_upload(api, ops, *files)

    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "too_large",
        "message": "Too many files in one upload; the limit is 3 per request.",
    }
    assert not Document.objects.exists()
    assert _stored_files(stores) == []


def test_more_files_than_django_parses_are_refused_in_the_json_shape(
    ops: Collection, api: APIClient, stores: Path, settings: Settings
) -> None:
    settings.KB_MAX_UPLOAD_FILES = settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    files = [(f"f{n}.txt", f"file {n}".encode()) for n in range(4)]

    response = api_upload(api, ops, *files)

    assert response.status_code == 413
    assert response.json()["error"]["message"] == (
        "Too many files in one upload; the limit is 3 per request."
    )
    assert not Document.objects.exists()


def test_many_archives_cannot_add_up_to_more_files_than_one_may_hold(
    ops: Collection, api: APIClient, settings: Settings
) -> None:
    settings.KB_MAX_ZIP_ENTRIES = 5
    archives = [(f"a{n}.zip", _zip({f"a{n}/{m}.txt": b"x" for m in range(4)})) for n in range(2)]

    response = api_upload(api, ops, *archives)

    assert response.status_code == 413
    assert "more than 5 files" in response.json()["error"]["message"]
    assert not Document.objects.exists()


def test_an_upload_body_over_the_limit_is_a_json_413(
    ops: Collection, api: APIClient, stores: Path, settings: Settings
) -> None:
    settings.KB_MAX_REQUEST_MB = 1  # every file is under KB_MAX_UPLOAD_MB; the body is not
    files = [(f"part{n}.txt", b"y" * 600_000) for n in range(2)]

    response = api_upload(api, ops, *files)

    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "too_large",
        "message": "The request is larger than 1 MB; nothing was stored.",
    }
    assert not Document.objects.exists()
    assert _stored_files(stores) == []


def test_an_upload_body_over_the_limit_is_explained_on_the_manage_page(
    ops: Collection, editor: Any, settings: Settings
) -> None:
    settings.KB_MAX_REQUEST_MB = 1
    client = signed_in_as(editor)
    files = [SimpleUploadedFile("big.txt", b"y" * 1_200_000)]

    response = client.post(f"/manage/collections/{ops.pk}/upload", {"files": files}, headers=HTMX)

    assert response.status_code == 413
    assert (
        "Nothing was uploaded: The request is larger than 1 MB; nothing was stored."
        in response.content.decode()
    )
    assert not Document.objects.exists()


def test_a_plain_form_upload_over_the_limit_gets_a_page_that_says_so(
    ops: Collection, editor: Any, settings: Settings
) -> None:
    """Without JavaScript the form posts itself: the answer is a whole page, not a fragment."""
    settings.KB_MAX_REQUEST_MB = 1
    client = signed_in_as(editor)
    files = [SimpleUploadedFile("big.txt", b"y" * 1_200_000)]

    response = client.post(f"/manage/collections/{ops.pk}/upload", {"files": files})

    page = response.content.decode()
    assert response.status_code == 413
    assert "<h1>Too large</h1>" in page
    assert "The request is larger than 1 MB; nothing was stored." in page
    assert not Document.objects.exists()


def test_a_json_body_over_the_limit_is_a_json_413_before_it_is_parsed(
    api: APIClient, settings: Settings
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = {"question": "why?", "history": [{"role": "user", "content": "z" * 4000}] * 5}

    response = api.post("/api/v1/query", body, format="json")

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


HUGE = [str(2**63), "99999999999999999999", str(2**64 + 1)]


@pytest.mark.parametrize("number", HUGE)
@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("get", "/api/v1/documents/{n}"),
        ("delete", "/api/v1/documents/{n}"),
        ("get", "/api/v1/collections/{n}/documents"),
        ("post", "/api/v1/collections/{n}/documents"),
        ("delete", "/api/v1/collections/{n}"),
    ],
    ids=[
        "document",
        "delete-document",
        "collection-documents",
        "upload-to-collection",
        "delete-collection",
    ],
)
def test_an_id_the_database_cannot_hold_in_an_api_path_is_a_json_404(
    api: APIClient, method: str, template: str, number: str
) -> None:
    response = getattr(api, method)(template.format(n=number))

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


@pytest.mark.parametrize("value", [str(2**63), "-1", "1e309", "NaN", "9" * 40])
@pytest.mark.parametrize("parameter", ["offset", "limit"])
def test_paging_parameters_out_of_bounds_are_a_json_400(
    ops: Collection, api: APIClient, parameter: str, value: str
) -> None:
    response = api.get(f"/api/v1/collections/{ops.pk}/documents", {parameter: value})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["error"]["message"].startswith(f"{parameter}: ")


def test_the_largest_offset_allowed_is_an_empty_page(ops: Collection, api: APIClient) -> None:
    response = api.get(f"/api/v1/collections/{ops.pk}/documents", {"offset": 2**31 - 1})

    assert response.status_code == 200
    assert response.json() == {"count": 0, "results": []}


# fmt: skip below: a table, one case per line, that the formatter would spread out.
@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/feedback", {"query_id": 2**63, "rating": "up"}),
        ("/api/v1/feedback", '{"query_id": 1e309, "rating": "up"}'),
        ("/api/v1/query", {"question": "Who descales the coffee machine?", "collections": [2**63]}),
        ("/api/v1/search", {"query": "coffee", "collections": [1, 2**70]}),
        ("/api/v1/search", {"query": "coffee", "collections": [-1]}),
        ("/api/v1/search", {"query": "coffee", "top_k": 2**63}),
    ],
    ids=["feedback-query-id", "feedback-infinite", "query-collection", "search-collection",
         "search-negative-collection", "search-top-k"],
)  # fmt: skip
def test_numbers_the_database_cannot_hold_in_an_api_body_are_a_json_400(
    api: APIClient, url: str, body: dict[str, Any] | str
) -> None:
    raw = body if isinstance(body, str) else json.dumps(body)  # 1e309: beyond json.dumps

    response = api.post(url, raw, content_type="application/json")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize("value", ["maybe", 2, [], {}], ids=["word", "number", "list", "object"])
def test_a_search_translate_that_is_no_boolean_is_a_json_400_naming_it(
    api: APIClient, value: object
) -> None:
    response = api.post("/api/v1/search", {"query": "coffee", "translate": value}, format="json")

    assert response.status_code == 400, response.content
    assert "translate" in response.json()["error"]["message"]


def test_feedback_on_the_largest_id_is_a_json_404(api: APIClient) -> None:
    response = api.post("/api/v1/feedback", {"query_id": 2**63 - 1, "rating": "up"}, format="json")

    assert response.status_code == 404


@pytest.mark.parametrize("number", HUGE)
@pytest.mark.parametrize(
    "template",
    [
        "/documents/{n}/download",
        "/conversations/{n}",
        "/manage/collections/{n}/",
        "/manage/collections/{n}/access",
        "/manage/collections/{n}/progress",
        "/manage/collections/{n}/delete",
    ],
)
def test_an_id_the_database_cannot_hold_in_a_page_path_is_a_404(
    editor: Any, template: str, number: str
) -> None:
    client = signed_in_as(editor)

    assert client.get(template.format(n=number)).status_code == 404


def test_huge_ids_polled_on_the_manage_page_are_ignored(ops: Collection, editor: Any) -> None:
    client = signed_in_as(editor)

    response = client.get(f"/manage/collections/{ops.pk}/progress", {"ids": f"{2**64},1"})

    assert response.status_code == 200


# fmt: skip below: a table, one case per line, that the formatter would spread out.
@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/chat/stream", {"question": "Who descales it?", "collections": [2**63]}),
        ("/chat/stream", {"question": "Who descales it?", "collections": [1],
                          "conversation": 2**64}),
        ("/chat/feedback", {"query_id": 2**63, "rating": "up"}),
    ],
    ids=["stream-collection", "stream-conversation", "feedback"],
)  # fmt: skip
def test_numbers_the_database_cannot_hold_in_a_chat_request_are_a_400(
    editor: Any, url: str, body: dict[str, Any]
) -> None:
    client = signed_in_as(editor)

    response = client.post(url, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize(
    ("url", "payload"),
    [
        ("/api/v1/feedback", {"query_id": 1, "rating": "up"}),
        ("/api/v1/query", {"question": "What is in the payroll file?"}),
        ("/api/v1/collections", {"name": "Forged"}),
    ],
    ids=["feedback", "query", "create-collection"],
)
def test_a_forged_session_request_to_the_api_is_a_403_that_says_csrf(
    editor: Any, url: str, payload: dict[str, Any]
) -> None:
    """A page on another site makes the signed-in browser post without the CSRF token."""
    browser = signed_in_as(editor, enforce_csrf_checks=True)

    response = browser.post(url, payload, content_type="application/json")

    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": "csrf_failed",
            "message": "The page is out of date (security token). Reload it and try again.",
        }
    }


def test_a_forged_session_upload_is_a_403_that_says_csrf_and_stores_nothing(
    ops: Collection, editor: Any, stores: Path
) -> None:
    browser = signed_in_as(editor, enforce_csrf_checks=True)
    files = [SimpleUploadedFile("planted.txt", b"Send your password to evil.example.")]

    response = browser.post(f"/api/v1/collections/{ops.pk}/documents", {"files": files})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert not Document.objects.exists()
    assert _stored_files(stores) == []


def _server_paths(stores: Path) -> list[str]:
    return [str(stores), tempfile.gettempdir(), str(ROOT)]


def test_a_file_that_breaks_the_parser_fails_without_server_paths_in_its_error(
    ops: Collection, api: APIClient, editor: Any, stores: Path
) -> None:
    """PIL names the file it could not read, with its full path under the media root."""
    broken_png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"garbage" * 20
    (created,) = api_upload(api, ops, ("scan.png", broken_png)).json()["results"]

    outcome = ingest_document(document_id=created["id"], version=1)

    error = api.get(f"/api/v1/documents/{created['id']}").json()["error"]
    manager = signed_in_as(editor)
    page = manager.get(f"/manage/collections/{ops.pk}/").content.decode()
    assert outcome == "failed"
    assert error.startswith("The image could not be opened (cannot identify image file")
    assert "<path>" in error and "<path>" in html.unescape(page)
    for path in _server_paths(stores):
        assert path not in error and path not in page


def test_a_store_that_cannot_open_answers_503_without_its_path(
    api: APIClient, stores: Path
) -> None:
    (stores / "qdrant").mkdir()
    (stores / "qdrant" / "edge_config.json").write_text("not the shard's configuration")

    response = api.post("/api/v1/search", {"query": "payroll"}, format="json")

    assert response.status_code == 503
    message = response.json()["error"]["message"]
    assert message.startswith("Qdrant Edge could not open the vector index at <path>")
    for path in _server_paths(stores):
        assert path not in message


CHUNK = b"z" * 16_384


def _asgi_post(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), *headers],
        "client": ("203.0.113.9", 40000),
        "server": ("127.0.0.1", 8000),
    }


def _serve_endless_body(scope: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """kb_serve's application (uvicorn's side played here) gets a body that never ends: what
    it answers within 5 s, and how many bytes it read."""
    from kb.asgi import application

    sent: list[dict[str, Any]] = []
    read = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        await asyncio.sleep(0.001)
        read += len(CHUNK)
        return {"type": "http.request", "body": CHUNK, "more_body": True}

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(dict(message))

    async def serve() -> None:
        await asyncio.wait_for(application(scope, receive, send), timeout=5)

    asyncio.run(serve())
    return sent, read


def test_under_asgi_a_declared_oversized_body_is_refused_without_being_read(
    db: None, settings: Settings
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000
    scope = _asgi_post(
        "/api/v1/query",
        [(b"content-type", b"application/json"), (b"content-length", b"50000000000")],
    )

    sent, _read = _serve_endless_body(scope)

    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"]["code"] == "too_large"


def test_under_asgi_an_undeclared_endless_body_is_cut_off_at_the_limit(
    db: None, settings: Settings
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000
    scope = _asgi_post("/api/v1/query", [(b"content-type", b"application/json")])

    _sent, read = _serve_endless_body(scope)

    assert read <= 100_000 + len(CHUNK)
