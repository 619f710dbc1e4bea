"""An employee without access never sees a restricted collection or its documents: not in the
navigation, not in the chat's collection picker, and every manage or download URL is 404."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import LiveServer, Shots, sign_in
from tests.e2e.test_manage_upload import create_collection
from tests.support import samples

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
OPEN_NAME = "Общие документы · 公共文档"


@pytest.fixture(scope="module")
def restricted(
    browser: Browser, quarry_server: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, int]:
    """Made by the administrator through the pages: "Payroll" for hr only, with a document,
    and a collection with a Russian and Chinese name that everyone may read."""
    folder = tmp_path_factory.mktemp("payroll")
    page = sign_in(browser, quarry_server, "admin")
    payroll = create_collection(page, None, "Payroll", ["hr"])
    page.locator("#id_files").set_input_files(
        [samples.text(folder / "salaries-2026.md", "# Salaries\n\nThe CEO earns a lot.\n")]
    )
    page.get_by_role("button", name="Upload").click()
    document_row = page.locator("tr.doc").first
    expect(document_row).to_be_visible()
    document = int((document_row.get_attribute("id") or "").removeprefix("doc-"))
    create_collection(page, None, OPEN_NAME, [], open_to_all=True)
    page.context.close()
    return {"collection": payroll, "document": document}


def test_an_employee_outside_the_group_never_sees_it(
    browser: Browser, quarry_server: LiveServer, restricted: dict[str, int], shots: Shots
) -> None:
    # Given bob, an engineer, signed in
    page = sign_in(browser, quarry_server, "bob")

    # Then the navigation offers the chat only, and the picker lacks the restricted collection
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link")).to_have_text(["Chat"])
    expect(page.locator(".picker-name")).to_have_text([OPEN_NAME])
    expect(page.get_by_text("Payroll")).to_have_count(0)
    shots(page, "chat-without-access")

    # And every manage and download URL answers 404, like a missing page
    urls = [
        "/manage/",
        "/manage/collections/new",
        f"/manage/collections/{restricted['collection']}/",
        f"/manage/collections/{restricted['collection']}/access",
        f"/manage/collections/{restricted['collection']}/progress?ids={restricted['document']}",
        f"/documents/{restricted['document']}/download",
        "/manage/collections/999999/",
    ]
    for url in urls:
        response = page.goto(url)
        assert response is not None and response.status == 404, url
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        assert "Payroll" not in page.content() and "salaries" not in page.content()
    shots(page, "manage-url-is-404")

    # And the API agrees
    listed = page.request.get("/api/v1/collections").json()
    assert "Payroll" not in {c["name"] for c in listed["results"]}


def test_open_collections_render_in_chinese_and_russian_on_a_phone(
    browser: Browser, quarry_server: LiveServer, restricted: dict[str, int], shots: Shots
) -> None:
    page = sign_in(browser, quarry_server, "bob", viewport={"width": 375, "height": 812})

    expect(page.locator(".picker-name")).to_have_text([OPEN_NAME])
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways on a phone ({width}px wide)"
    shots(page, "phone-chat")

    # Keyboard: the first Tab reaches the skip link, which moves focus to the content
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    shots(page, "skip-link-focused")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_a_reader_of_the_group_sees_it(
    browser: Browser, quarry_server: LiveServer, restricted: dict[str, int], shots: Shots
) -> None:
    page = sign_in(browser, quarry_server, "alice")

    expect(page.locator(".picker-name", has_text="Payroll")).to_have_count(1)
    response = page.request.get(f"/documents/{restricted['document']}/download")
    assert response.status == 200 and b"The CEO earns a lot." in response.body()
    assert page.goto("/manage/") is not None
    assert re.search(r"Not found", page.content())  # reading is not managing
    shots(page, "reader-chat")


def test_the_chat_stream_parser_reads_server_sent_events(
    browser: Browser, quarry_server: LiveServer, tmp_path: Path
) -> None:
    """chat.js's SSE parser, run in the browser: the hook the answering step streams into."""
    page = sign_in(browser, quarry_server, "bob")

    parsed = page.evaluate(
        """() => Quarry.sse.parse(
            'event: token\\ndata: {"text": "Hel"}\\n\\n: keep-alive\\n\\r\\n'
            + 'event: token\\r\\ndata: {"text": "lo"}\\r\\n\\r\\ndata: {"x":'
        )"""
    )

    assert parsed["events"] == [
        {"event": "token", "data": '{"text": "Hel"}'},
        {"event": "token", "data": '{"text": "lo"}'},
    ]
    assert parsed["rest"] == 'data: {"x":'
