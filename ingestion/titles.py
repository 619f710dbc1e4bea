"""A document's title: its file name until the file names itself (a PDF's metadata title or
first heading); a title someone set by hand is never replaced."""

from __future__ import annotations

from pathlib import Path

TITLE_LENGTH = 500  # Document.title's column


def filename_title(filename: str) -> str:
    return Path(filename).stem.replace("_", " ")[:TITLE_LENGTH]


def indexed_title(current: str, *, filename: str, parsed: str) -> str:
    """The title a newly indexed version gets: the file's own, unless the current one was
    chosen by a person (it differs from the name-derived one)."""
    chosen_by_hand = current and current != filename_title(filename)
    if chosen_by_hand or not parsed:
        return current
    return parsed[:TITLE_LENGTH]
