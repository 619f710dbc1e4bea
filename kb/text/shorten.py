"""Free text on one short line: a conversation's title, a passage's snippet."""

from __future__ import annotations


def shortened(text: str, limit: int) -> str:
    """`text` with its whitespace collapsed, at most `limit` characters: cut at a word boundary
    where one falls in the second half, else mid-word (Chinese has no spaces), and marked
    with an ellipsis."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"
