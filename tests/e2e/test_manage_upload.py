"""An administrator creates a collection, uploads files (one of them unreadable), watches the
progress bars reach "indexed", sees the failure reason, retries and deletes."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.conftest import WAIT_MS, LiveServer, Shots
from tests.support import samples

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
INDEXING_TIMEOUT_MS = 240_000


def make_files(folder: Path) -> list[Path]:
    bundle = samples.zip_of(
        folder / "bundle.zip",
        {
            "policies/leave.md": samples.text(
                folder / "leave.md", "# Leave\n\nEveryone has 25 days of paid leave a year.\n"
            ),
            "policies/staff.csv": samples.csv_file(folder / "staff.csv"),
        },
    )
    return [
        samples.text_pdf(
            folder / "handbook.pdf",
            [("Welcome", "Office hours are nine to five."), ("Отпуск", "Отпуск длится 25 дней.")],
        ),
        samples.markdown(folder / "deployment.md"),
        samples.html(folder / "mail.html"),
        bundle,
        samples.encrypted_pdf(folder / "locked.pdf"),
    ]


def row(page: Page, filename: str) -> Locator:
    return page.locator("tr.doc", has=page.locator(".doc-file", has_text=filename))


def nav_link(page: Page, name: str) -> Locator:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name)


def create_collection(
    page: Page, shots: Shots | None, name: str, readers: list[str], *, open_to_all: bool = False
) -> int:
    nav_link(page, "Manage").click()
    page.get_by_role("link", name="New collection").click()
    page.get_by_label("Name").fill(name)
    fieldset = page.get_by_role("group", name="Reader groups")
    for group in readers:
        fieldset.get_by_label(group, exact=True).check()
    if open_to_all:
        page.get_by_label("Open to everyone who signs in").check()
    if shots:
        shots(page, "new-collection-form")
    page.get_by_role("button", name="Create collection").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    match = re.search(r"/manage/collections/(\d+)/", page.url)
    assert match, page.url
    return int(match.group(1))


def test_admin_uploads_and_watches_indexing(
    browser: Browser, quarry_server: LiveServer, shots: Shots, tmp_path: Path
) -> None:
    # Given an administrator on the sign-in page
    page = browser.new_context(base_url=quarry_server.url).new_page()
    page.set_default_timeout(WAIT_MS)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("/")
    shots(page, "sign-in")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Ask your documents")).to_be_visible()
    shots(page, "chat-shell")

    # When they create a collection read by the hr group
    create_collection(page, shots, "HR Handbook", ["hr"])
    expect(page.get_by_text("Created HR Handbook.")).to_be_visible()
    shots(page, "collection-created")

    # And upload several files, one of them a password-protected PDF
    page.locator("#id_files").set_input_files(make_files(tmp_path))
    expect(page.locator("[data-chosen] li")).to_have_count(5)
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("Received 6 files (6 created); indexing started.")).to_be_visible()
    expect(page.locator("tr.doc")).to_have_count(6)
    shots(page, "uploaded-queued")

    # Then progress bars move through the stages while the worker runs
    working = page.locator("tr.doc[data-status=processing] [role=progressbar]").first
    expect(working).to_be_visible(timeout=INDEXING_TIMEOUT_MS)
    expect(page.locator("tr.doc[data-status=processing] [data-stage]").first).not_to_be_empty()
    shots(page, "processing")

    # And every row settles: five indexed, the locked PDF failed with its reason
    unsettled = page.locator("tr.doc[data-status=queued], tr.doc[data-status=processing]")
    expect(unsettled).to_have_count(0, timeout=INDEXING_TIMEOUT_MS)
    expect(page.locator("tr.doc[data-status=indexed]")).to_have_count(5)
    locked = row(page, "locked.pdf")
    expect(locked.locator(".doc-error")).to_contain_text("password-protected")
    expect(page.locator("#doc-poller")).to_have_attribute("data-polling", "off")
    shots(page, "settled")

    # When they retry the failed document, it is queued again and fails again, with its reason
    with page.expect_response(re.compile(r"/retry$")) as retried:
        locked.get_by_role("button", name="Retry").click()
    assert "Queued" in retried.value.text()
    expect(locked.locator(".doc-error")).to_contain_text(
        "password-protected", timeout=INDEXING_TIMEOUT_MS
    )
    shots(page, "retried")

    # When the connection drops as they delete a document, the row stays and says so
    delete_url = re.compile(r"/manage/documents/\d+/delete$")
    page.route(delete_url, lambda route: route.abort())
    row(page, "deployment.md").get_by_role("button", name="Delete").click()
    expect(row(page, "deployment.md").get_by_role("alert")).to_contain_text("connection was lost")
    page.unroute(delete_url)
    shots(page, "delete-lost")

    # When they delete it again, its row goes, and stays gone after a reload
    row(page, "deployment.md").get_by_role("button", name="Delete").click()
    expect(row(page, "deployment.md")).to_have_count(0)
    page.reload()
    expect(page.locator("tr.doc")).to_have_count(5)
    shots(page, "deleted")

    # When they drop a file onto the drop zone, it uploads and is indexed
    page.evaluate(DROP_A_FILE)
    expect(row(page, "dropped.md")).to_have_count(1)
    expect(row(page, "dropped.md")).to_have_attribute(
        "data-status", "indexed", timeout=INDEXING_TIMEOUT_MS
    )
    shots(page, "dropped")

    # When they upload an archive that points outside itself, nothing is stored and they see why
    page.locator("#id_files").set_input_files(
        {"name": "evil.zip", "mimeType": "application/zip", "buffer": evil_zip()}
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-result .notice-error")).to_contain_text(
        "points outside the archive"
    )
    expect(page.locator("tr.doc")).to_have_count(6)
    shots(page, "refused-archive")

    # When the connection drops during an upload, they are told so instead of waiting forever
    upload_url = re.compile(r"/manage/collections/\d+/upload$")
    page.route(upload_url, lambda route: route.abort())
    page.locator("#id_files").set_input_files(
        {"name": "lost.md", "mimeType": "text/markdown", "buffer": b"# Lost"}
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-result .notice-error")).to_contain_text("connection was lost")
    page.unroute(upload_url)
    shots(page, "upload-lost")

    # When they let the eng group read it too, the collection page shows both reader groups
    page.get_by_role("link", name="Edit access").click()
    page.get_by_role("group", name="Reader groups").get_by_label("eng", exact=True).check()
    shots(page, "edit-access")
    page.get_by_role("button", name="Save access").click()
    expect(page.get_by_text("Saved who may read HR Handbook")).to_be_visible()
    expect(page.locator(".page-head .chip")).to_have_text(["eng", "hr"])

    # And the collections list counts the documents per status
    nav_link(page, "Manage").click()
    listed = page.locator("tbody tr", has_text="HR Handbook")
    expect(listed.locator("td[data-label=Documents]")).to_have_text("6")
    expect(listed.locator("td[data-label=Indexed]")).to_have_text("5")
    expect(listed.locator("td[data-label=Failed]")).to_have_text("1")
    shots(page, "collections-list")

    # And the pages work on a phone-sized screen
    page.set_viewport_size({"width": 375, "height": 812})
    shots(page, "phone-collections")
    listed.get_by_role("link", name="HR Handbook").click()
    shots(page, "phone-collection")


DROP_A_FILE = """() => {
  const data = new DataTransfer();
  data.items.add(new File(["# Dropped\\n\\nThe backup window is 02:00 to 03:00."], "dropped.md",
                          {type: "text/markdown"}));
  const zone = document.querySelector("[data-dropzone]");
  const init = {dataTransfer: data, bubbles: true, cancelable: true};
  zone.dispatchEvent(new DragEvent("dragover", init));
  zone.dispatchEvent(new DragEvent("drop", init));
}"""


def evil_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../outside.txt", "escape")
    return buffer.getvalue()
