"""GET /api/v1/collections/{id}/documents: the documents of a readable collection that the
caller may read, with their ingestion status; other collections look missing."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from kb.models import DocumentStatus
from tests.support.clients import api_client
from tests.support.personas import EXPECTED_VISIBLE, World

pytestmark = pytest.mark.integration


def _list(client: APIClient, collection_id: int, **query: Any) -> tuple[int, Any]:
    response = client.get(f"/api/v1/collections/{collection_id}/documents", query)
    return response.status_code, response.json()


@pytest.mark.parametrize("persona", list(EXPECTED_VISIBLE))
def test_each_persona_lists_exactly_what_it_may_read(world: World, persona: str) -> None:
    client = api_client(world, persona)

    answers = {name: _list(client, c.pk) for name, c in world.collections.items()}

    codes = {code for code, _body in answers.values()}
    if persona in {"anonymous", "deactivated_hr"}:
        assert codes == {401}
        return
    listed = {
        row["title"] for code, body in answers.values() if code == 200 for row in body["results"]
    }
    assert listed == EXPECTED_VISIBLE[persona]
    missing = _list(client, 999_999)
    assert missing == (404, {"error": {"code": "not_found", "message": "Not found."}})
    for code, body in answers.values():
        if code == 200:
            assert body["count"] == len(body["results"])
        else:  # a collection it may not read: the same answer as one that does not exist
            assert (code, body) == missing


def test_status_filter_and_pages(world: World) -> None:
    client = api_client(world, "hr_lead")
    hr = world.collections["hr"]
    failed = world.documents["payroll-policy"]
    failed.status = DocumentStatus.FAILED
    failed.error = "The PDF is password-protected; upload an unlocked copy."
    failed.save()

    code, body = _list(client, hr.pk, status="failed")
    assert code == 200
    assert body["count"] == 1
    assert [(r["title"], r["error"]) for r in body["results"]] == [("payroll-policy", failed.error)]

    code, body = _list(client, hr.pk, limit=1, offset=1)
    assert (code, body["count"]) == (200, 3)
    assert [r["title"] for r in body["results"]] == ["payroll-policy"]  # oldest first


@pytest.mark.parametrize(
    ("query", "field"),
    [({"status": "done"}, "status"), ({"limit": 0}, "limit"), ({"offset": -1}, "offset")],
)
def test_bad_parameters_are_a_400_naming_the_field(
    world: World, query: dict[str, Any], field: str
) -> None:
    code, body = _list(api_client(world, "hr_reader"), world.collections["hr"].pk, **query)

    assert code == 400
    assert body["error"]["code"] == "invalid"
    assert body["error"]["message"].startswith(f"{field}:")
