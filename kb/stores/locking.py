"""One process per embedded store folder.

Qdrant Edge and the embedded graph engine corrupt or refuse a folder opened by two processes;
an advisory lock makes the second opener fail at once with a message that names the holder.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from kb.stores.errors import StoreLockedError

LOCK_NAME = ".quarry.lock"


class FolderLock:
    def __init__(self, folder: Path, *, what: str) -> None:
        self.folder = folder
        self.what = what
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = open(self.folder / LOCK_NAME, "a+")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise StoreLockedError(
                f"The embedded {self.what} at {self.folder} is in use by process {holder}. "
                "Embedded stores are opened by one process only: stop that process, or run "
                "web and worker in one process (`make run`), or point the setting at a server."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
