"""kb_export_feedback: rated answers only, as redacted {prompt, completion, rating} lines."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from ingestion.pipeline import ingest_document
from kb.access import CONSOLE
from kb.services.documents import document_add
from kb.uploads import IncomingFile
from tests.support import samples
from tests.support.clients import api_client
from tests.support.personas import IndexedWorld

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.llm]


def test_only_rated_answers_are_exported_redacted(
    indexed_world: IndexedWorld, tmp_path: Path
) -> None:
    engineering = indexed_world.documents["runbook"].collection
    path = samples.text(
        tmp_path / "contacts.txt",
        "The coffee machine supplier is Brewco; "
        "orders go to orders@brewco.example or +44 20 7946 0958.",
    )
    doc, _ = document_add(
        collection=engineering, incoming=IncomingFile("contacts.txt", path), uploader=CONSOLE
    )
    assert ingest_document(document_id=doc.pk, version=doc.version) == "indexed"
    client = api_client(indexed_world.world, "engineer")

    def ask(question: str) -> dict[str, object]:
        body: dict[str, object] = client.post(
            "/api/v1/query", {"question": question}, format="json"
        ).json()
        return body

    rated = ask("Who supplies the office coffee machine?")
    ask("Who descales the office coffee machine?")  # no feedback: not exported
    refused = ask("What is the capital of Mongolia?")
    assert refused["refused"] is True
    for query in (rated, refused):
        client.post(
            "/api/v1/feedback", {"query_id": query["query_id"], "rating": "down"}, format="json"
        )
    out, err = StringIO(), StringIO()

    call_command("kb_export_feedback", "--jsonl", stdout=out, stderr=err)

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["query_id"] for line in lines] == [rated["query_id"]]
    example = lines[0]
    assert example["rating"] == "down" and example["template_version"] == "answer-v3"
    assert [m["role"] for m in example["prompt"]] == ["system", "user"]
    prompt = example["prompt"][1]["content"]
    assert "Question: Who supplies the office coffee machine?" in prompt
    assert "Brewco" in prompt and "[email]" in prompt and "[phone]" in prompt
    assert "brewco.example" not in out.getvalue() and "7946" not in out.getvalue()
    assert "1 exported; skipped 1 refused" in err.getvalue()
