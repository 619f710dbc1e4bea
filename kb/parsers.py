"""JSON request bodies for every DRF view (settings REST_FRAMEWORK, kb.openai_api.views)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

TOO_DEEP = "JSON parse error - nested too deeply."


class JSONParser(parsers.JSONParser):
    """DRF's, with a body nested deeper than Python's decoder goes (`[[[[…]]]]`, a few hundred
    kilobytes) a 400 like any other malformed JSON: its RecursionError was a 500."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
