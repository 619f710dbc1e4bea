"""Citations: `[n]` markers in the model's answer, checked against the passages it was given.

A number that names no passage is removed rather than shown, since it would point nowhere.
The filter works on a stream: text is released as soon as it cannot be the inside of a
citation marker, so tokens still reach the reader as they are produced.
"""

from __future__ import annotations

import re

# "[3]", "[1, 2]", "[1,2,5]": the forms small models produce; the claim check and attribution
# read markers with this same pattern.
MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_PARTIAL = re.compile(r"\[[\d,\s]*\Z")
_MAX_MARKER = 24


def cited_in(text: str, valid: set[int]) -> list[int]:
    """The valid numbers a finished text's markers name, in order of first use."""
    citations = CitationFilter(valid)
    citations.feed(text)
    citations.flush()
    return citations.cited


class CitationFilter:
    def __init__(self, valid: set[int]) -> None:
        self.valid = valid
        self.cited: list[int] = []  # valid numbers in order of first use
        self._pending = ""

    def feed(self, piece: str) -> str:
        """The part of the text so far that is safe to show."""
        text = self._pending + piece
        cut = text.rfind("[")
        if cut != -1 and _PARTIAL.match(text, cut) and len(text) - cut <= _MAX_MARKER:
            self._pending = text[cut:]
            text = text[:cut]
        else:
            self._pending = ""
        return self._clean(text)

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return self._clean(text)

    def _clean(self, text: str) -> str:
        return MARKER.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.split(r"\s*,\s*", match.group(1))]
        kept = [n for n in numbers if n in self.valid]
        for n in kept:
            if n not in self.cited:
                self.cited.append(n)
        return "".join(f"[{n}]" for n in kept)
