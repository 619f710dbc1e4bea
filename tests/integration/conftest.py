"""Integration fixtures: the persona company of tests/support/personas.py with real, ingested
documents; each carries a canary string, so a leak is visible wherever it appears."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.dispatch import receiver
from pytest_django.fixtures import Settings

from ingestion.pipeline import ingest_document
from kb.access import CONSOLE
from kb.answering import prompt_sent
from kb.celery import all_queues, app
from kb.llm.chat import Message
from kb.llm.factory import forget_chat_model
from kb.services.documents import document_add
from kb.uploads import IncomingFile
from kb.worker import EmbeddedWorker
from tests.support import samples
from tests.support.ldap import (
    DIRECTORY_BACKEND,
    GROUPS,
    PEOPLE,
    SEARCH_DN,
    SEARCH_PASSWORD,
    PrivateSlapd,
)
from tests.support.live_asgi import serving
from tests.support.model_server import ScriptedModel, scripted_model_server
from tests.support.personas import TOPIC, IndexedWorld, build_world, canary


@pytest.fixture
def indexed_world(transactional_db: None, stores: Path, tmp_path: Path) -> IndexedWorld:
    """transactional_db: streamed answers run in their own thread, with its own connection,
    which must see what the test wrote."""
    world = build_world()
    documents = {}
    for title, placeholder in world.documents.items():
        readers = list(placeholder.reader_groups.all())
        placeholder.delete()  # a factory row without content; the upload replaces it
        body = f"{title} notes. {TOPIC} Reference code {canary(title)}."
        path = samples.text(tmp_path / f"{title}.txt", body)
        document, _ = document_add(
            collection=placeholder.collection,
            incoming=IncomingFile(f"{title}.txt", path),
            uploader=CONSOLE,
        )
        document.reader_groups.set(readers)
        assert ingest_document(document_id=document.pk, version=document.version) == "indexed"
        documents[title] = document
    return IndexedWorld(world, documents)


@pytest.fixture
def worker(transactional_db: None, stores: Path) -> Iterator[EmbeddedWorker]:
    """The in-process Celery worker on the ingest queue, as kb_serve runs it, on fresh stores.
    transactional_db: it works in its own thread, which sees only what the test committed."""
    embedded = EmbeddedWorker(app, queues=all_queues())
    embedded.start()
    yield embedded
    embedded.stop()


@pytest.fixture
def prompts() -> Iterator[list[list[Message]]]:
    """Every prompt sent to the model during the test."""
    seen: list[list[Message]] = []

    @receiver(prompt_sent, weak=False)
    def record(sender: object, messages: list[Message], **_: object) -> None:
        seen.append(messages)

    yield seen
    prompt_sent.disconnect(record)


@pytest.fixture
def scripted_model(settings: Settings) -> Iterator[type[ScriptedModel]]:
    """The answering model as a scripted server on loopback (tests/support/model_server.py):
    fast, and what the answer path does with a reply does not depend on a model writing it.
    Script it through the class's attributes (`reply`, `p_yes`, `released`, `status_code`)."""
    with scripted_model_server() as (url, scripted):
        settings.KB_LLM_BASE_URL = url
        forget_chat_model()
        yield scripted
        forget_chat_model()


@pytest.fixture
def directory(settings: Settings) -> Iterator[PrivateSlapd]:
    """A fresh OpenLDAP slapd loaded from tests/support/ldap/directory.ldif, and Quarry's LDAP
    settings pointing at it: the search bind, people found by uid under ou=people, groupOfNames
    groups under ou=groups, the directory backend after the local one."""
    server = PrivateSlapd()
    try:
        server.start()
        settings.KB_LDAP_SERVER_URI = server.uri
        settings.KB_LDAP_BIND_DN = SEARCH_DN
        settings.KB_LDAP_BIND_PASSWORD = SEARCH_PASSWORD
        settings.KB_LDAP_USER_SEARCH_BASE = PEOPLE
        settings.KB_LDAP_USER_FILTER = "(uid=%(user)s)"
        settings.KB_LDAP_USER_DN_TEMPLATE = ""
        settings.KB_LDAP_GROUP_SEARCH_BASE = GROUPS
        settings.KB_LDAP_GROUP_TYPE = "groupofnames"
        settings.KB_LDAP_GROUP_MAP = None
        settings.KB_LDAP_TIMEOUT_SECONDS = 5
        settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, DIRECTORY_BACKEND]
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def live_url() -> Iterator[str]:
    """Quarry's whole ASGI application (kb.asgi: Django with `/mcp` beside it) served live by
    uvicorn in this process, with the lifespan on as kb_serve runs it. One server for the
    session: the MCP session manager runs once per application, and the application is
    kb.asgi's own. Each test's database, settings and model are the server's."""
    from kb.asgi import application

    with serving(application) as url:
        yield url
