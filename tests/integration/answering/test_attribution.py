"""An answer the model wrote without `[n]` markers reaches the asker citing, for each supported
sentence, the passage that holds it (retrieval.attribution): in the API's answer and
citations, and in the stream's final events. The model is a scripted server on loopback
(tests/support/model_server.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ingestion.pipeline import ingest_document
from kb.access import CONSOLE
from kb.services.documents import document_add
from kb.uploads import IncomingFile
from tests.support.clients import api_client
from tests.support.model_server import ScriptedModel
from tests.support.personas import World, build_world
from tests.support.sse import parse_events

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PAGES = {
    "backups.txt": (
        "Backups\n\nThe finance database is backed up every night at 02:30 to the Frankfurt "
        "data centre, and each backup is kept for 35 days."
    ),
    "restores.txt": (
        "Restores\n\nTo restore a backup of the finance database, open a ticket with the "
        "operations team; restores of the finance database take about four hours."
    ),
}
QUESTION = "When is the finance database backed up, and how do I restore a backup?"
REPLY = (
    "The finance database is backed up every night at 02:30 to the Frankfurt data centre. "
    "To restore a backup, open a ticket with the operations team. "
    "Restores are free of charge for every team."
)


@pytest.fixture
def world(
    transactional_db: None, stores: Path, scripted_model: type[ScriptedModel], tmp_path: Path
) -> World:
    world = build_world()
    for name, text in PAGES.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        document, _ = document_add(
            collection=world.collections["eng"],
            incoming=IncomingFile(name, path),
            uploader=CONSOLE,
        )
        assert ingest_document(document_id=document.pk, version=document.version) == "indexed"
    return world


def test_an_answer_without_markers_cites_the_passage_of_each_supported_sentence(
    world: World, scripted_model: type[ScriptedModel]
) -> None:
    scripted_model.reply = REPLY
    client: Any = api_client(world, "engineer")

    body = client.post("/api/v1/query", {"question": QUESTION}, format="json").json()
    streamed = client.post("/api/v1/query", {"question": QUESTION, "stream": True}, format="json")

    async def read() -> bytes:
        return b"".join([chunk async for chunk in streamed.streaming_content])

    events = dict(parse_events(asyncio.run(read())))
    numbers = {c["title"]: c["n"] for c in body["citations"]}
    assert set(numbers) == {"backups", "restores"}
    assert body["answer"] == (
        f"The finance database is backed up every night at 02:30 to the Frankfurt data centre "
        f"[{numbers['backups']}]. To restore a backup, open a ticket with the operations team "
        f"[{numbers['restores']}]. Restores are free of charge for every team."
    )
    assert [c["supported"] for c in body["claims"]] == [True, True, False]
    assert events["done"]["answer"] == body["answer"]
    assert {c["n"] for c in events["citations"]["citations"]} == set(numbers.values())


def test_a_sentence_cited_to_the_wrong_passage_cites_the_one_that_holds_it(
    world: World, scripted_model: type[ScriptedModel]
) -> None:
    """Both sentences cite [1]; whichever passage that is, one of them is held by the other."""
    scripted_model.reply = (
        "The finance database is backed up every night at 02:30 to the Frankfurt data centre "
        "[1]. To restore a backup, open a ticket with the operations team [1]."
    )
    client: Any = api_client(world, "engineer")

    body = client.post("/api/v1/query", {"question": QUESTION}, format="json").json()

    numbers = {c["title"]: c["n"] for c in body["citations"]}
    assert set(numbers) == {"backups", "restores"}
    assert body["answer"] == (
        f"The finance database is backed up every night at 02:30 to the Frankfurt data centre "
        f"[{numbers['backups']}]. To restore a backup, open a ticket with the operations team "
        f"[{numbers['restores']}]."
    )
    assert [(c["supported"], c["passages"]) for c in body["claims"]] == [
        (True, [numbers["backups"]]),
        (True, [numbers["restores"]]),
    ]
    assert (body["refused"], body["check"]) == (False, "")


def test_a_command_in_a_code_block_is_cited_after_the_block(
    world: World, scripted_model: type[ScriptedModel]
) -> None:
    """The command is supported but a marker inside the block would be copied with it: the
    block's source is cited on a line after its closing fence."""
    scripted_model.reply = (
        "To restore a backup of the finance database:\n\n"
        "```\nopen a ticket with the operations team\n```"
    )

    body = api_client(world, "engineer").post(
        "/api/v1/query", {"question": "How do I restore a finance backup?"}, format="json"
    )
    answer = body.json()

    (citation,) = answer["citations"]
    assert citation["title"] == "restores"
    assert answer["answer"].endswith(
        f"```\nopen a ticket with the operations team\n```\n[{citation['n']}]"
    )
