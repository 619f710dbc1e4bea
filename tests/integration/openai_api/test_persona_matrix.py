"""Who sees what through the OpenAI-compatible API: per persona of tests/support/personas.py,
the exact models listed, the exact documents that reach the prompt and the caller, and a 404
for every collection model it may not read. Canary strings planted in every document never
appear where their reader may not look."""

from __future__ import annotations

import openai
import pytest
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam
from pytest_django.fixtures import Settings

from kb.llm.chat import Message
from tests.integration.openai_api.conftest import Connect
from tests.support.model_server import ScriptedModel
from tests.support.personas import EXPECTED_VISIBLE, TOPIC, canary

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous"),
]

QUESTION = "When is the office coffee machine descaled?"
ALL_TITLES = set(EXPECTED_VISIBLE["staff"])
SIGNED_IN = [p for p in EXPECTED_VISIBLE if p not in {"anonymous", "deactivated_hr"}]
# Persona -> the collection models it must list, exactly (HR, Engineering, Company).
EXPECTED_MODELS: dict[str, set[str]] = {
    "hr_reader": {"quarry/hr", "quarry/company"},
    "hr_lead": {"quarry/hr", "quarry/company"},
    "engineer": {"quarry/engineering", "quarry/company"},
    "eng_editor": {"quarry/engineering", "quarry/company"},
    "no_groups": {"quarry/company"},
    "staff": {"quarry/hr", "quarry/engineering", "quarry/company"},
}
ALL_MODELS = EXPECTED_MODELS["staff"]


def _canaries_in(text: str) -> set[str]:
    return {title for title in ALL_TITLES if canary(title) in text}


def _ask(client: OpenAI, *, stream: bool) -> str:
    """Everything the caller received, as JSON text."""
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": QUESTION}]
    if stream:
        chunks = client.chat.completions.create(model="quarry", messages=messages, stream=True)
        return "".join(chunk.model_dump_json() for chunk in chunks)
    return client.chat.completions.create(model="quarry", messages=messages).model_dump_json()


@pytest.mark.parametrize("persona", SIGNED_IN)
def test_a_token_lists_asks_and_reads_only_its_collections(
    connect: Connect,
    scripted_model: type[ScriptedModel],
    prompts: list[list[Message]],
    settings: Settings,
    persona: str,
) -> None:
    settings.KB_TOP_K = 20  # every readable document can reach the prompt (staff reads 6)
    scripted_model.reply = f"{TOPIC} [1]"
    visible = EXPECTED_VISIBLE[persona]
    client = connect(persona)

    listed = {m.id for m in client.models.list().data}
    assert listed == {"quarry"} | EXPECTED_MODELS[persona]

    for stream in (False, True):
        prompts.clear()
        received = _ask(client, stream=stream)

        (prompt,) = prompts
        assert _canaries_in("\n".join(m["content"] for m in prompt)) == visible, (persona, stream)
        assert _canaries_in(received) <= visible and _canaries_in(received), (persona, stream)

    for model in ALL_MODELS - EXPECTED_MODELS[persona]:
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": QUESTION}]
            )
    assert len(prompts) == 1  # the 404s reached no prompt


@pytest.mark.parametrize("persona", ["hr_reader", "engineer"])
def test_a_collection_model_prompts_only_that_collection(
    connect: Connect,
    scripted_model: type[ScriptedModel],
    prompts: list[list[Message]],
    persona: str,
) -> None:
    scripted_model.reply = f"{TOPIC} [1]"

    connect(persona).chat.completions.create(
        model="quarry/company", messages=[{"role": "user", "content": QUESTION}]
    )

    (prompt,) = prompts
    assert _canaries_in("\n".join(m["content"] for m in prompt)) == {"company-news"}


@pytest.mark.parametrize("persona", ["anonymous", "deactivated_hr"])
def test_no_active_token_lists_nothing(connect: Connect, persona: str) -> None:
    with pytest.raises(openai.AuthenticationError) as raised:
        connect(persona).models.list()

    assert _canaries_in(raised.value.response.text) == set()
    assert "quarry/" not in raised.value.response.text
