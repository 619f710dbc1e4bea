"""Refusals after retrieval found something on topic (issue 17): the answerability check, the
model's own non-answers, and answers no source supports. The model is a scripted server on
loopback (tests/support/model_server.py): what the answer path does with a reply must not
depend on a model choosing to write it. The real default model's near miss is in
test_default_model.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from ingestion.pipeline import ingest_document
from kb.access import CONSOLE
from kb.models import QueryLog
from kb.services.documents import document_add
from kb.uploads import IncomingFile
from retrieval.answerability import CHECK_QUESTION
from retrieval.refusals import NOT_FOUND
from tests.support.clients import api_client
from tests.support.model_server import ScriptedModel
from tests.support.personas import World, build_world
from tests.support.sse import parse_events

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BACKUPS = (
    "Backups\n\nThe finance database is backed up every night at 02:30 to the Frankfurt data "
    "centre, and each backup is kept for 35 days."
)
QUESTION = "Which encryption algorithm protects the finance database backups?"


@pytest.fixture
def world(
    transactional_db: None, stores: Path, scripted_model: type[ScriptedModel], tmp_path: Path
) -> World:
    world = build_world()
    path = tmp_path / "backups.txt"
    path.write_text(BACKUPS, encoding="utf-8")
    document, _ = document_add(
        collection=world.collections["eng"],
        incoming=IncomingFile("backups.txt", path),
        uploader=CONSOLE,
    )
    assert ingest_document(document_id=document.pk, version=document.version) == "indexed"
    return world


def _ask(world: World, question: str = QUESTION, *, stream: bool = False) -> Any:
    response: Any = api_client(world, "engineer").post(
        "/api/v1/query", {"question": question, "stream": stream}, format="json"
    )
    if not stream:
        return response.json()

    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return parse_events(asyncio.run(read()))


@pytest.mark.parametrize(
    "reply",
    [
        "The passages do not mention an encryption algorithm for the backups. However, AES-256 "
        "is common [1].",
        "I don't know.",
        "The provided documents do not specify which encryption is used [1].",
    ],
)
def test_a_non_answer_in_the_models_own_words_is_a_refusal(
    world: World, scripted_model: type[ScriptedModel], reply: str
) -> None:
    """Counted as a refusal in the API and the log, and its first sentence never streamed."""
    scripted_model.reply = reply

    body = _ask(world)
    events = _ask(world, stream=True)

    assert (body["refused"], body["refusal"], body["citations"]) == (True, "declined", [])
    assert body["answer"] == f"{NOT_FOUND} The closest sources found: “Backups” in backups."
    assert [(c["title"], c["section"]) for c in body["closest"]] == [("backups", "Backups")]
    assert body["gap"] == ""  # the question's words the page lacks are ordinary ones
    shown = "".join(data["text"] for name, data in events if name == "token")
    assert shown == ""
    assert dict(events)["done"]["refused"] is True
    assert [log.refused for log in QueryLog.objects.all()] == [True, True]


def test_a_refusal_names_the_product_the_sources_do_not_mention(
    world: World, scripted_model: type[ScriptedModel]
) -> None:
    """A near miss: the page is about the backups, but says nothing of Backblaze. Refused
    before the model is asked (KB_REFUSE_UNCOVERED_NAMES), and counted so in the log."""
    scripted_model.reply = "Yes, they are copied to Backblaze B2 every night [1]."
    question = "Are the finance database backups also copied to Backblaze?"

    body = _ask(world, question)
    events = _ask(world, question, stream=True)

    gap = "The closest passages do not mention “Backblaze”."
    assert (body["refused"], body["refusal"]) == (True, "not_covered")
    assert body["answer"] == f"{NOT_FOUND} {gap} The closest sources found: “Backups” in backups."
    assert body["gap"] == dict(events)["citations"]["gap"] == gap
    assert scripted_model.bodies == []  # no model time spent on it
    assert [log.refusal for log in QueryLog.objects.all()] == ["not_covered", "not_covered"]


def test_a_secret_in_the_question_is_never_named_as_what_the_sources_lack(
    world: World, scripted_model: type[ScriptedModel]
) -> None:
    """Read as the log's reader would: a token or password the asker pasted looks like a name
    the page lacks, but neither the answer, its gap nor the logged row quotes it."""
    token = "ghp_" + "Zq8Xr2Lm4Np6Tv9Wb3Yd5Kf7Hj1Gs0Ac2Eu4"
    question = (
        f"My password is Vq7Plk93Wzr and the token {token} is refused: are the finance "
        "database backups also copied to Backblaze?"
    )

    body = _ask(world, question)

    assert (body["refused"], body["refusal"]) == (True, "not_covered")
    assert body["gap"] == "The closest passages do not mention “Backblaze”."
    (log,) = QueryLog.objects.all()
    stored = " ".join(str(value) for value in QueryLog.objects.values().get(pk=log.pk).values())
    for secret in ("Vq7Plk93Wzr", token, token[4:]):
        assert secret not in body["answer"]
        assert secret not in stored
    assert "Backblaze" in log.answer_redacted


def test_a_name_written_in_another_script_is_judged_in_the_questions_translation(
    world: World, scripted_model: type[ScriptedModel], settings: Settings
) -> None:
    """A Russian question about the English page: its "Бэкблейз" is compared with nothing as
    asked, but the English translation it is searched in (written by the model) names
    "Backblaze", which the page lacks. Refused before an answer is asked for."""
    settings.KB_TRANSLATE_QUESTIONS = True
    scripted_model.reply = "Are the finance database backups also copied to Backblaze?"

    body = _ask(world, "Копируются ли резервные копии финансовой базы ещё и в Бэкблейз?")

    assert (body["refused"], body["refusal"]) == (True, "not_covered")
    assert body["gap"] == "В ближайших фрагментах нет упоминаний «Backblaze»."
    (translation,) = scripted_model.bodies  # the translation, and no answer
    assert "Translate into English" in translation["messages"][-1]["content"]


def test_a_translation_cannot_carry_a_hidden_password_into_the_refusal(
    world: World, scripted_model: type[ScriptedModel], settings: Settings
) -> None:
    """The question's "пароль X" is redacted; the model's translation writes X in Latin
    letters without that context, where redaction no longer sees a secret. The refusal and
    its log row quote it in neither form."""
    settings.KB_TRANSLATE_QUESTIONS = True
    scripted_model.reply = (
        "My Khanter2020 password fails: are the finance database backups copied to Backblaze?"
    )
    scripted_model.p_yes = 0.0  # the passages do not answer it: no answer is written
    question = "Мой пароль Хантер2020 не подходит: копируются ли резервные копии в Бэкблейз?"

    body = _ask(world, question)

    assert body["refused"] is True  # every refusal names what its passages lack
    stored = " ".join(str(v) for row in QueryLog.objects.values() for v in row.values())
    for secret in ("Khanter2020", "Хантер2020"):
        assert secret not in body["answer"] + body["gap"]
        assert secret not in stored


def test_with_the_setting_off_a_question_naming_what_the_sources_lack_reaches_the_model(
    world: World, scripted_model: type[ScriptedModel], settings: Any
) -> None:
    settings.KB_REFUSE_UNCOVERED_NAMES = False
    scripted_model.reply = "I don't know."

    body = _ask(world, "Are the finance database backups also copied to Backblaze?")

    assert (body["refused"], body["refusal"]) == (True, "declined")
    assert len(scripted_model.bodies) >= 1


def test_an_answer_that_starts_answering_is_streamed_as_it_comes(
    world: World, scripted_model: type[ScriptedModel]
) -> None:
    scripted_model.reply = (
        "The finance database is backed up every night at 02:30 to Frankfurt [1]. Each backup "
        "is kept for 35 days [1]."
    )

    events = _ask(world, "When and where is the finance database backed up?", stream=True)

    tokens = [data["text"] for name, data in events if name == "token"]
    assert len(tokens) > 3  # released piece by piece once the first sentence was complete
    assert "".join(tokens).strip() == scripted_model.reply
    assert dict(events)["done"]["refused"] is False


def test_the_answerability_check_refuses_before_any_answer_is_generated(
    world: World, scripted_model: type[ScriptedModel], settings: Settings
) -> None:
    settings.KB_ANSWERABILITY_CHECK = True
    settings.KB_ANSWERABILITY_MIN_YES = 0.4
    scripted_model.p_yes = 0.1
    scripted_model.reply = "AES-256 protects the backups [1]."

    body = _ask(world)

    assert (body["refused"], body["refusal"]) == (True, "not_answerable")
    assert "AES" not in body["answer"]
    assert [b.get("stream", False) for b in scripted_model.bodies] == [False]  # the check only
    assert scripted_model.bodies[0]["messages"][-1]["content"] == CHECK_QUESTION


def test_an_answerable_question_shares_its_prompt_with_the_check(
    world: World, scripted_model: type[ScriptedModel], settings: Settings
) -> None:
    """The check's prompt is the answer's prompt and one more turn, so a model server that
    caches prompt prefixes (llama.cpp) evaluates the passages once."""
    settings.KB_ANSWERABILITY_CHECK = True
    scripted_model.p_yes = 0.8
    scripted_model.reply = "The backups are kept for 35 days [1]."

    body = _ask(world, "How long are finance database backups kept?")

    check, answer = scripted_model.bodies
    assert body["refused"] is False and body["answer"] == scripted_model.reply
    assert check["messages"][: len(answer["messages"])] == answer["messages"]


def test_a_refusal_is_written_in_the_language_of_the_question(
    world: World, scripted_model: type[ScriptedModel]
) -> None:
    scripted_model.reply = "资料中没有提到备份使用的加密算法。"

    body = _ask(world, "财务数据库的备份使用哪种加密算法？")

    assert body["refused"] is True
    assert body["answer"].startswith("知识库中没有找到答案。")


WHEN = "When is the finance database backed up?"
UNSUPPORTED = "The finance database is backed up every Sunday at 23:00 to Dublin [1]."
SUPPORTED = "The finance database is backed up every night at 02:30 [1]."


def test_an_answer_no_source_supports_is_written_again_before_it_is_refused(
    world: World, scripted_model: type[ScriptedModel]
) -> None:
    """The first answer streams, `retrying` says it is not the answer, and `done` brings the
    second, which the page supports (retrieval.second_attempt)."""
    scripted_model.replies = [UNSUPPORTED, SUPPORTED]

    events = _ask(world, WHEN, stream=True)

    names = [name for name, _ in events]
    assert names.count("retrying") == 1
    assert max(i for i, name in enumerate(names) if name == "token") < names.index("retrying")
    shown = "".join(data["text"] for name, data in events if name == "token")
    assert shown.strip() == UNSUPPORTED
    done = dict(events)["done"]
    assert (done["refused"], done["answer"]) == (False, SUPPORTED)
    assert [c["supported"] for c in done["claims"]] == [True]
    first, second = [b for b in scripted_model.bodies if b.get("stream")]
    assert second["messages"][: len(first["messages"])] == first["messages"]
    assert second["messages"][len(first["messages"])] == {
        "role": "assistant",
        "content": UNSUPPORTED,
    }
    assert [log.refused for log in QueryLog.objects.all()] == [False]


def test_an_answer_no_source_supports_twice_is_refused(
    world: World, scripted_model: type[ScriptedModel]
) -> None:
    scripted_model.reply = UNSUPPORTED

    body = _ask(world, WHEN)

    assert (body["refused"], body["refusal"], body["citations"]) == (True, "unsupported", [])
    assert "Dublin" not in body["answer"]
    assert len([b for b in scripted_model.bodies if b.get("stream")]) == 2
