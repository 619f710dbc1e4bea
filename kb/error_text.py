"""Exception text shown to users, without the server's file paths.

Libraries put paths in their messages (the data directory, a temporary copy, the media root):
they tell an attacker where things live and say nothing useful to the person who uploaded a
file. Everything that turns an exception into words for a user (a document's error, an API
error, an error event of a stream) passes it through `without_paths`. Logs keep the paths.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from django.conf import settings

PLACEHOLDER = "<path>"
# An absolute POSIX or Windows path, or a file URL, not inside a word, a URL or a relative
# path; it ends before whitespace, quotes, brackets and trailing punctuation.
_PATH_CHARS = r"[^\s'\"<>|;,()\[\]{}:]"
ABSOLUTE_PATH = re.compile(
    rf"(?<![\w.~:/\\-])(?:file://)?(?:/|[A-Za-z]:[\\/]){_PATH_CHARS}*[^\s'\"<>|;,()\[\]{{}}:.]"
)


def without_paths(text: str) -> str:
    """`text` with every server path replaced by PLACEHOLDER; known roots first, so that a
    root with spaces in its name goes as a whole."""
    for root in _known_roots():
        text = re.sub(re.escape(root) + _PATH_CHARS + "*", PLACEHOLDER, text)
    return ABSOLUTE_PATH.sub(PLACEHOLDER, text)


def _known_roots() -> list[str]:
    roots = [settings.KB_DATA_DIR, settings.MEDIA_ROOT, settings.BASE_DIR, tempfile.gettempdir()]
    names = {str(Path(str(root))) for root in roots if root and len(str(root)) > 1}
    return sorted(names, key=len, reverse=True)
