"""A PDF with page labels (roman front matter, a body numbered from 1) is cited by its physical
page, which opens the file there, and by the number printed on that page: through ingestion,
the search endpoint and a streamed answer's `sources` and `citations` events. The model is the
scripted server on loopback (tests/support/model_server.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingestion.pipeline import ingest_document
from kb.access import CONSOLE
from kb.models import Document
from kb.services.documents import document_add
from kb.uploads import IncomingFile
from tests.support import samples
from tests.support.clients import api_client
from tests.support.model_server import ScriptedModel
from tests.support.personas import World, build_world
from tests.support.sse import read_events

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous"),
]

QUESTION = "How do I restore a backup from the write-ahead log?"
REPLY = "To restore a backup, stop the server, copy the base backup and replay the WAL [1]."
# Physical pages 1-2 are printed i and ii; the body starts on page 3, printed 1.
PAGES = [
    ("Preface", "This guide is for the people on call."),
    ("Foreword", "Written by the operations team for new colleagues."),
    ("Backup", samples.BACKUP_TEXT),
]
PRINTED = {1: "i", 2: "ii", 3: "1"}


@pytest.fixture
def book(transactional_db: None, stores: Path, tmp_path: Path) -> tuple[World, Document]:
    """The engineers' collection holds one indexed PDF with page labels (transactional_db: a
    streamed answer runs in its own thread and connection)."""
    world = build_world()
    runbook = world.documents["runbook"]
    path = samples.labelled_pdf(tmp_path / "ops-guide.pdf", PAGES, front_matter=2)
    document, _ = document_add(
        collection=runbook.collection,
        incoming=IncomingFile("ops-guide.pdf", path),
        uploader=CONSOLE,
    )
    document.reader_groups.set(runbook.reader_groups.all())
    assert ingest_document(document_id=document.pk, version=document.version) == "indexed"
    return world, document


def _of(document: Document, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for item in items if item["document_id"] == document.pk]


def test_a_search_result_gives_the_physical_page_and_the_printed_one(
    book: tuple[World, Document],
) -> None:
    world, document = book

    response = api_client(world, "engineer").post(
        "/api/v1/search", {"query": QUESTION}, format="json"
    )

    assert response.status_code == 200
    found = _of(document, response.json()["results"])
    backup = [r for r in found if "write-ahead" in r["text"]]
    assert backup and {(r["page"], r["page_label"]) for r in backup} == {(3, "1")}


def test_a_streamed_answer_s_sources_and_citations_carry_the_printed_page(
    book: tuple[World, Document], scripted_model: type[ScriptedModel]
) -> None:
    world, document = book
    scripted_model.reply = REPLY

    response = api_client(world, "engineer").post(
        "/api/v1/query", {"question": QUESTION, "stream": True}, format="json"
    )
    events = dict(read_events(response))

    sources = _of(document, events["sources"]["sources"])
    assert 3 in {s["page"] for s in sources}
    assert all(s["page_label"] == PRINTED[s["page"]] for s in sources)
    cited = events["citations"]["citations"]
    assert not events["citations"]["refused"] and cited
    assert [(c["page"], c["page_label"]) for c in cited if "write-ahead" in c["text"]] == [(3, "1")]


def test_the_openapi_schema_describes_page_label_wherever_a_page_is_given(db: None) -> None:
    world = build_world()

    schema = api_client(world, "engineer").get("/api/v1/schema?format=json").json()

    shapes = schema["components"]["schemas"]
    with_page = {name for name, shape in shapes.items() if "page" in shape.get("properties", {})}
    assert with_page >= {"SourceOut", "CitationOut", "SearchResultOut"}
    for name in with_page:
        assert "page_label" in shapes[name]["properties"], name
    streamed = schema["paths"]["/api/v1/query"]["post"]["responses"]["200"]["description"]
    assert "page, page_label, section" in streamed
