"""Server paths leave exception text; everything else a user needs to read stays."""

from __future__ import annotations

import tempfile

import pytest
from pytest_django.fixtures import Settings

from kb.error_text import without_paths

pytestmark = pytest.mark.unit


# fmt: skip below: a table, one case per line, that the formatter would spread out.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cannot identify image file '/srv/quarry/var/media/ab/x.png'",
         "cannot identify image file '<path>'"),
        ("[Errno 2] No such file: /opt/data/x.pdf.", "[Errno 2] No such file: <path>."),
        ("at C:\\Quarry\\var\\qdrant: locked", "at <path>: locked"),
        ("see file:///var/lib/quarry/graph for details", "see <path> for details"),
    ],
    ids=["quoted", "trailing-dot", "windows", "file-url"],
)  # fmt: skip
def test_absolute_paths_are_replaced(text: str, expected: str) -> None:
    assert without_paths(text) == expected


def test_a_data_dir_with_spaces_goes_as_a_whole(settings: Settings) -> None:
    settings.KB_DATA_DIR = "/Users/Jane Doe/quarry data"

    text = "could not open /Users/Jane Doe/quarry data/qdrant/segments (locked)"

    assert without_paths(text) == "could not open <path> (locked)"


def test_the_temp_dir_goes_even_in_odd_places() -> None:
    assert tempfile.gettempdir() not in without_paths(f"x{tempfile.gettempdir()}/upload-0 failed")


@pytest.mark.parametrize(
    "text",
    [
        "The model server at http://llm:8080/v1 did not answer.",
        "Use and/or; 1/2 of the pages; km/h.",
        "The PDF is password-protected; upload an unlocked copy.",
        "docs/sub/report.md is larger than its archive claims.",
    ],
    ids=["url", "slashes-in-words", "plain", "relative-archive-name"],
)
def test_text_without_server_paths_is_unchanged(text: str) -> None:
    assert without_paths(text) == text
