"""The answer stream as a client reads it: text/event-stream frames back into their events.

Strict on purpose: a frame that is not one `event:` line and one JSON `data:` line fails the
test, so nothing the server sends is skipped unseen."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

Event = tuple[str, dict[str, Any]]  # (event name, decoded data)

FRAME = re.compile(r"event: (\w+)\ndata: (.*)")


def parse_events(body: bytes | str) -> list[Event]:
    """The events of a whole stream body, in the order sent."""
    text = body.decode() if isinstance(body, bytes) else body
    *frames, rest = text.split("\n\n")
    assert rest == "", f"the stream ends inside a frame: {rest!r}"
    events = []
    for frame in frames:
        match = FRAME.fullmatch(frame)
        assert match, f"not an event frame: {frame!r}"
        events.append((match[1], json.loads(match[2])))
    return events


def read_events(response: Iterable[bytes]) -> list[Event]:
    """The events of a streamed test-client response, read to its end on this thread (Django's
    test client runs an async stream through async_to_sync, so its database work sees the
    test's transaction)."""
    return parse_events(b"".join(response))
