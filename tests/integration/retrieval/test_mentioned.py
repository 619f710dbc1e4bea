"""Whether the passages' documents name a word anywhere (Retriever.mentioned), read from the
real vector index after real ingestion: only those documents, only what the asker may read.
The answerer uses it before refusing a question for a name its passages lack."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.pipeline import ingest_document
from kb.access import CONSOLE, access_scope
from kb.models import Collection, Document
from kb.services.documents import document_add
from kb.uploads import IncomingFile
from retrieval.factory import default_retriever
from tests.support import samples
from tests.support.factories import CollectionFactory, GroupFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INTRO = (
    "This chapter follows the administrators of Falcot Corp, a manufacturer of audio "
    "equipment, as they set up their servers. "
)
TOPICS = [
    "The print server shares the office printers and keeps a queue for each floor.",
    "Mail is delivered by the mail server, which filters spam before it reaches a mailbox.",
    "The web proxy caches pages that many people open, which saves bandwidth every morning.",
    "Backups run every night: the backup server copies each home directory with rsync and "
    "keeps a snapshot of every day, hard links sharing the files that did not change.",
]


def _add(collection: Collection, name: str, body: str, tmp_path: Path) -> Document:
    path = samples.text(tmp_path / name, body)
    document, _ = document_add(
        collection=collection, incoming=IncomingFile(path.name, path), uploader=CONSOLE
    )
    assert ingest_document(document_id=document.pk, version=document.version) == "indexed"
    return document


def test_a_word_counts_as_mentioned_only_in_a_readable_chunk_of_the_listed_documents(
    db: None, stores: Path, tmp_path: Path
) -> None:
    staff, finance = GroupFactory.create(name="staff"), GroupFactory.create(name="finance")
    handbook_collection = CollectionFactory.create(name="Handbook", reader_groups=[staff])
    secret_collection = CollectionFactory.create(name="Finance", reader_groups=[finance])
    # many paragraphs, so that the introduction naming Falcot is a chunk of its own
    body = INTRO + "\n\n" + "\n\n".join(topic * 8 for topic in TOPICS)
    handbook = _add(handbook_collection, "handbook.txt", body, tmp_path)
    vendors = _add(handbook_collection, "vendors.txt", "Offsite copies go to Backblaze.", tmp_path)
    secret = _add(secret_collection, "audit.txt", "Falcot is audited with Zabbix.", tmp_path)
    engineer = UserFactory.create(username="engineer", groups=[staff])
    retriever = default_retriever()
    assert retriever.index.count(document_id=handbook.pk) > 2

    mentioned = retriever.mentioned(
        ["Falcot", "Backblaze", "Zabbix", "snapshot"],
        document_ids={handbook.pk, secret.pk},
        scope=access_scope(engineer),
    )

    # Backblaze is in a readable document not listed; Zabbix in a listed one not readable
    assert mentioned == {"Falcot", "snapshot"}
    scope = access_scope(engineer)
    assert retriever.mentioned(["Backblaze"], document_ids={vendors.pk}, scope=scope) == {
        "Backblaze"
    }
