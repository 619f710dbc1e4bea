"""A terminal progress bar with no dependency: redrawn in place on a terminal, one line per
change elsewhere (CI logs, pipes)."""

from __future__ import annotations

from typing import Protocol


class TextIO(Protocol):
    def write(self, text: str) -> object: ...
    def flush(self) -> None: ...
    def isatty(self) -> bool: ...


WIDTH = 30


class ProgressBar:
    def __init__(self, stream: TextIO, *, total: int, label: str) -> None:
        self.stream = stream
        self.total = max(total, 1)
        self.label = label
        self._tty = stream.isatty()
        self._last = ""

    def update(self, done: float, detail: str = "") -> None:
        fraction = max(0.0, min(1.0, done / self.total))
        filled = int(WIDTH * fraction)
        bar = "#" * filled + "-" * (WIDTH - filled)
        line = f"{self.label} [{bar}] {fraction:6.1%} {detail}"[:120]
        if line == self._last:
            return
        self._last = line
        if self._tty:
            self.stream.write("\r" + line.ljust(120))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()
