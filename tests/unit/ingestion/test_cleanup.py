"""Text off a page made fit to index: compatibility forms, broken words, page furniture."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.parsers.cleanup import normalise
from ingestion.parsers.registry import parse_document
from tests.support import samples

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("read", "indexed"),
    [
        ("the ﬁrewall and the ﬂow", "the firewall and the flow"),
        ("ＡＰＴ ｖｅｒｓｉｏｎ ２", "APT version 2"),
        ("备份，每天！保留三十天。", "备份，每天！保留三十天。"),  # Chinese punctuation stays
        ("config\u00aduration", "configuration"),
        ("the configu-\nration file", "the configuration file"),
        ("Ivan-\nIvanov", "Ivan-\nIvanov"),  # a capital after the break: a real hyphen
        ("x86-\n64", "x86-\n64"),
    ],
)
def test_text_is_normalised_as_read(read: str, indexed: str) -> None:
    assert normalise(read) == indexed


BODIES = [
    "Installing the widget takes two minutes on a fresh machine.",
    "The configu-\nration of the ﬁrewall is described on this page.",
    "Backups run every night at two and are kept for a month.",
    "Upgrades keep the settings of the previous release.",
    "Widget Manual, release 2 for Example Corp. appears once inside a page too.",
]
FOOTER = "Widget Manual, release 2 for Example Corp."


def test_running_footers_and_page_numbers_are_dropped(tmp_path: Path) -> None:
    path = samples.printed_manual_pdf(tmp_path / "manual.pdf", BODIES[:4], furniture=FOOTER)

    texts = [e.text for e in parse_document(path, filename=path.name).elements]

    assert texts == [
        "Installing the widget takes two minutes on a fresh machine.",
        "The configuration of the firewall is described on this page.",
        "Backups run every night at two and are kept for a month.",
        "Upgrades keep the settings of the previous release.",
    ]


def test_a_recurring_line_that_also_stands_inside_a_page_is_kept(tmp_path: Path) -> None:
    """Headings recur ("Options" in every command of a reference): only a line that never
    appears anywhere but a page's edge is furniture."""
    last = "\n\n".join(["Upgrades keep settings.", "Nothing is lost.", FOOTER, "Done."])
    path = samples.printed_manual_pdf(
        tmp_path / "manual.pdf", [*BODIES[:3], last], furniture=FOOTER
    )

    texts = [e.text for e in parse_document(path, filename=path.name).elements]

    assert texts.count(FOOTER) == 5  # four footers and the line inside the last page


def test_a_few_pages_are_too_few_to_tell_furniture(tmp_path: Path) -> None:
    path = samples.printed_manual_pdf(tmp_path / "manual.pdf", BODIES[:2], furniture=FOOTER)

    texts = [e.text for e in parse_document(path, filename=path.name).elements]

    assert FOOTER in texts


def test_a_pdf_is_titled_by_its_metadata_else_its_first_heading(tmp_path: Path) -> None:
    pages = [("Widget Operations Guide", "How to run the widget."), ("Backup", "Nightly.")]
    titled = samples.text_pdf(tmp_path / "a.pdf", pages, title="Widget Manual 2.1")
    word = samples.text_pdf(tmp_path / "b.pdf", pages, title="Microsoft Word - draft7.docx")
    bare = samples.text_pdf(tmp_path / "c.pdf", pages)

    titles = [parse_document(p, filename=p.name).title for p in (titled, word, bare)]

    assert titles == ["Widget Manual 2.1", "Widget Operations Guide", "Widget Operations Guide"]


def test_control_characters_in_a_metadata_title_become_spaces(tmp_path: Path) -> None:
    """PostgreSQL refuses NUL in text: a title carrying one would fail the document's save."""
    from pypdf import PdfWriter

    plain = samples.text_pdf(tmp_path / "plain.pdf", [("Heading", "Body.")])
    writer = PdfWriter(clone_from=str(plain))
    writer.add_metadata({"/Title": "Widget\x00Manual\x07 2.1"})
    path = tmp_path / "a.pdf"
    with path.open("wb") as out:
        writer.write(out)

    assert parse_document(path, filename=path.name).title == "Widget Manual 2.1"


def test_other_formats_keep_their_file_name(tmp_path: Path) -> None:
    path = samples.docx(tmp_path / "policy.docx")

    assert parse_document(path, filename=path.name).title == ""
