"""`GET /v1/models`: `quarry` and one `quarry/<slug>` per collection the caller may read; a
model the caller may not read answers exactly like one that does not exist."""

from __future__ import annotations

import openai
import pytest

from kb.models import Collection
from tests.integration.openai_api.conftest import Connect

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "When is the office coffee machine descaled?"


def test_the_models_are_quarry_and_the_readable_collections_by_slug(connect: Connect) -> None:
    models = connect("engineer").models.list().data

    assert [m.id for m in models] == ["quarry", "quarry/company", "quarry/engineering"]
    assert {m.object for m in models} == {"model"} and {m.owned_by for m in models} == {"quarry"}
    assert [m.model_extra["name"] for m in models[1:]] == ["Company", "Engineering"]  # type: ignore[index]


def test_an_unreadable_model_and_an_unknown_one_get_the_same_404(connect: Connect) -> None:
    """HR exists; to the engineer it must look exactly like a collection that does not."""
    assert Collection.objects.filter(slug="hr").exists()
    client = connect("engineer")
    answers = []
    for model in ("quarry/hr", "quarry/no-such-collection", "hr", "gpt-4o"):
        with pytest.raises(openai.NotFoundError) as asked:
            client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": QUESTION}]
            )
        with pytest.raises(openai.NotFoundError) as looked_up:
            client.models.retrieve(model)
        answers += [asked.value, looked_up.value]

    assert {(e.status_code, e.code, e.param, e.type) for e in answers} == {
        (404, "model_not_found", "model", "invalid_request_error")
    }
    assert len({e.response.content for e in answers}) == 1  # byte for byte


def test_a_readable_model_is_retrieved_by_its_id(connect: Connect) -> None:
    model = connect("hr_reader").models.retrieve("quarry/hr")

    assert (model.id, model.model_extra["name"]) == ("quarry/hr", "HR")  # type: ignore[index]


def test_an_endpoint_quarry_does_not_have_is_an_openai_404(connect: Connect) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        connect("engineer").embeddings.create(model="quarry", input="coffee")

    assert (raised.value.code, raised.value.type) == ("not_found", "invalid_request_error")
