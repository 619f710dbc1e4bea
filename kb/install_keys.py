"""Secrets an install makes for itself: the embedded default of `make run` for a key that
production must set in the environment (the query log's pseudonym key, the conversation key).

A key published in the code would be no secret, so none is written here: each install draws its
own once, into a file in KB_DATA_DIR readable by its owner only, and keeps it.
"""

from __future__ import annotations

import functools
import os
import secrets
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

MIN_KEY_CHARS = 32


@functools.lru_cache(maxsize=8)
def install_key(path: Path) -> bytes:
    """Read the key file, creating it on first use. The file is written whole under another
    name and then hard-linked into place, which fails if it already exists: two processes
    starting together both end up reading the one key that won, never a half-written one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-")  # mode 0600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process won the race: use its key
        finally:
            os.unlink(temporary)
    key = path.read_text().strip()
    if len(key) < MIN_KEY_CHARS:
        raise ImproperlyConfigured(
            f"{path} holds no usable key (fewer than {MIN_KEY_CHARS} characters)"
        )
    return key.encode()
