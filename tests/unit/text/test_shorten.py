"""Free text on one short line (kb/text/shorten.py); the conversation title's own cases are in
tests/unit/web/test_conversations.py."""

from __future__ import annotations

import pytest

from kb.text.shorten import shortened

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "limit", "short"),
    [
        ("Backups\n\nrun   nightly.", 40, "Backups run nightly."),
        ("The finance database is backed up nightly", 20, "The finance…"),
        ("Go supercalifragilistic", 10, "Go superc…"),
        ("备份每晚在法兰克福进行", 6, "备份每晚在…"),
    ],
    ids=["fits", "word-boundary", "only-boundary-too-early", "chinese"],
)
def test_text_is_cut_to_the_limit_with_an_ellipsis(text: str, limit: int, short: str) -> None:
    assert shortened(text, limit) == short
    assert len(shortened(text, limit)) <= limit
