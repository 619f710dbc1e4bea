"""The source view a citation opens: the passage highlighted in its neighbouring chunks, with
title, page, section and a download link, for readers of the document only; a forbidden chunk
answers exactly like a missing one (404), even when the store's ACL stamp is stale."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from kb import access
from kb.models import Document
from kb.stores.errors import StoreError
from kb.stores.factory import vector_index
from kb.stores.payload import ChunkPayload, chunk_id
from kb.stores.types import ChunkPoint, SparseVector
from kb.web import pages
from tests.support.clients import signed_in
from tests.support.personas import World

pytestmark = pytest.mark.integration

SHARED_BEFORE = "the overlap that ends chunk zero and begins chunk one."
SHARED_AFTER = "the overlap that ends chunk one and begins chunk two."
TEXTS = [
    "Intro about the service, " + SHARED_BEFORE,
    SHARED_BEFORE + " Restart it with systemctl restart quarry. " + SHARED_AFTER,
    SHARED_AFTER + " Logs are in journald.",
    "A fourth chunk, beyond the context shown.",
]


def index_document(
    document: Document,
    texts: list[str],
    *,
    version: int = 1,
    acl: list[str] | None = None,
    page_label: str = "",
) -> list[str]:
    """Chunks as ingestion writes them (deterministic ids, the same payload)."""
    ids = [chunk_id(document.pk, version, n) for n in range(len(texts))]
    vector_index().upsert(
        [
            ChunkPoint(
                id=cid,
                dense=[1.0] * settings.KB_EMBED_DIM,
                sparse=SparseVector([1], [1.0]),
                payload=ChunkPayload(
                    chunk_id=cid,
                    chunk_number=n,
                    document_id=document.pk,
                    document_version=version,
                    collection_id=document.collection_id,
                    acl=tuple(acl if acl is not None else access.document_acl(document)),
                    title=document.title,
                    page=4,
                    page_label=page_label,
                    section="Restarts",
                    text=text,
                ).to_dict(),
            )
            for n, (cid, text) in enumerate(zip(ids, texts, strict=True))
        ]
    )
    return ids


@pytest.fixture
def runbook(world: World, stores: Path) -> tuple[Document, list[str]]:
    document = world.documents["runbook"]
    document.version = document.indexed_version = 1
    document.file.name = "documents/runbook.txt"
    document.save()
    return document, index_document(document, TEXTS)


def test_the_cited_passage_is_highlighted_between_its_neighbours_read_once(
    world: World, runbook: tuple[Document, list[str]]
) -> None:
    document, ids = runbook

    response = signed_in(world, "engineer").get(f"/sources/{ids[1]}")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>runbook</h1>" in html
    assert "<dt>Page</dt><dd>4</dd>" in html and "<dt>Section</dt><dd>Restarts</dd>" in html
    assert (
        f'<mark id="cited" class="cited" tabindex="-1" aria-label="Cited passage">{TEXTS[1]}</mark>'
        in html
    )
    assert 'aria-label="Text before">Intro about the service,</div>' in html
    assert 'aria-label="Text after">Logs are in journald.</div>' in html
    assert html.count(SHARED_BEFORE) == 1 and html.count(SHARED_AFTER) == 1
    assert "A fourth chunk" not in html
    assert f'href="/documents/{document.pk}/download"' in html


def test_the_page_shows_the_number_printed_on_it_beside_the_physical_page(
    world: World, stores: Path
) -> None:
    document = world.documents["runbook"]
    document.version = document.indexed_version = 1
    document.save()
    ids = index_document(document, TEXTS, page_label="iv")

    html = signed_in(world, "engineer").get(f"/sources/{ids[1]}").content.decode()

    assert "<dt>Page</dt><dd>4 (printed iv)</dd>" in html


def test_the_first_chunk_has_only_a_next_neighbour(
    world: World, runbook: tuple[Document, list[str]]
) -> None:
    _document, ids = runbook

    html = signed_in(world, "engineer").get(f"/sources/{ids[0]}").content.decode()

    assert f">{TEXTS[0]}</mark>" in html
    assert "Restart it with systemctl" in html and "Logs are in journald" not in html


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("engineer", 200),
        ("eng_editor", 200),
        ("staff", 200),
        ("hr_reader", 404),
        ("hr_lead", 404),
        ("no_groups", 404),
    ],
)
def test_only_readers_of_the_document_open_its_passage(
    world: World, runbook: tuple[Document, list[str]], persona: str, status: int
) -> None:
    _document, ids = runbook

    response = signed_in(world, persona).get(f"/sources/{ids[1]}")

    assert response.status_code == status
    assert ("systemctl" in response.content.decode()) is (status == 200)


def test_a_narrowed_document_is_404_to_the_rest_of_its_collection(
    world: World, stores: Path
) -> None:
    salaries = world.documents["salaries"]
    ids = index_document(salaries, ["The CEO earns a lot."])

    assert signed_in(world, "hr_lead").get(f"/sources/{ids[0]}").status_code == 200
    assert signed_in(world, "hr_reader").get(f"/sources/{ids[0]}").status_code == 404


def test_a_stale_acl_stamp_in_the_store_is_caught_by_the_database_check(
    world: World, stores: Path
) -> None:
    """The store still says every signed-in user may read it; the database says hr-leads."""
    salaries = world.documents["salaries"]
    ids = index_document(salaries, ["The CEO earns a lot."], acl=[access.ACL_AUTHENTICATED])

    response = signed_in(world, "hr_reader").get(f"/sources/{ids[0]}")

    assert response.status_code == 404 and "CEO" not in response.content.decode()


def test_missing_and_malformed_chunks_look_like_forbidden_ones(
    world: World, runbook: tuple[Document, list[str]]
) -> None:
    client = signed_in(world, "engineer")

    missing = client.get("/sources/00000000-0000-5000-8000-000000000000")
    malformed = client.get("/sources/not-a-chunk")

    assert missing.status_code == malformed.status_code == 404
    assert "Not found" in missing.content.decode()


def test_signed_out_visitors_are_sent_to_sign_in(runbook: tuple[Document, list[str]]) -> None:
    _document, ids = runbook

    response = Client().get(f"/sources/{ids[1]}")

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_passage_of_an_older_version_says_so(
    world: World, runbook: tuple[Document, list[str]]
) -> None:
    document, _ids = runbook
    old = index_document(document, ["Restart it with the old init script."], version=0)

    html = signed_in(world, "engineer").get(f"/sources/{old[0]}").content.decode()

    assert "earlier version of the document" in html and "old init script" in html
    assert "systemctl" not in html  # the neighbours come from the same version only


def test_without_a_stored_file_there_is_no_download_link(
    world: World, runbook: tuple[Document, list[str]]
) -> None:
    document, ids = runbook
    Document.objects.filter(pk=document.pk).update(file="")

    html = signed_in(world, "engineer").get(f"/sources/{ids[1]}").content.decode()

    assert "/download" not in html


def test_an_unreachable_index_is_a_plain_503(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(**_: object) -> None:
        raise StoreError("qdrant: connection refused")

    monkeypatch.setattr(pages, "source_passage_for_user", down)

    response = signed_in(world, "engineer").get(f"/sources/{chunk_id(1, 1, 0)}")

    assert response.status_code == 503
    assert "The search index is unavailable right now" in response.content.decode()
    assert "connection refused" not in response.content.decode()
