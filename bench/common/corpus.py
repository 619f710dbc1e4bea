"""The HTML manuals every benchmark reads (Debian packages, installed by `make bench`), the
fixed selection of their pages, and the upload of files as the web does it."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

DOC_ROOT = Path("/usr/share/doc")
SOURCES = {
    "debian-handbook/en-US": DOC_ROOT / "debian-handbook/html/en-US",
    "debian-handbook/zh-CN": DOC_ROOT / "debian-handbook/html/zh-CN",
    "debian-handbook/ru-RU": DOC_ROOT / "debian-handbook/html/ru-RU",
    "postgresql-doc-15": DOC_ROOT / "postgresql-doc-15/html",
}
# Whole PDF manuals (`python -m bench quality --pdf`): source (the Debian package) -> file.
# Producers: gnuplot and Asymptote pdfTeX, GMPL (GLPK) dvipdfmx, dblatex's manual DocBook via
# dblatex (gzipped by Debian: unpacked into the run's temporary folder).
PDF_SOURCES = {
    "gnuplot-doc": DOC_ROOT / "gnuplot/gnuplot.pdf",
    "asymptote-doc": DOC_ROOT / "asymptote/asymptote.pdf",
    "glpk-doc": DOC_ROOT / "glpk-doc/gmpl.pdf",
    "dblatex-doc": DOC_ROOT / "dblatex/manual.pdf.gz",
}
Json = dict[str, Any]


@dataclass(frozen=True)
class InputFile:
    source: str
    path: Path

    @property
    def name(self) -> str:
        return f"{self.source}/{self.path.name}"


def require_sources() -> None:
    """Exits with the fix when a manual is not installed."""
    missing = [str(folder) for folder in SOURCES.values() if not folder.is_dir()]
    if missing:
        sys.exit(f"corpus missing ({', '.join(missing)}): `make bench` installs it with apt-get")


def pdf_files(folder: Path) -> list[InputFile]:
    """The PDF manuals, a gzipped one unpacked into `folder` (uploaded as source/name.pdf)."""
    missing = [str(path) for path in PDF_SOURCES.values() if not path.is_file()]
    if missing:
        sys.exit(f"PDF corpus missing ({', '.join(missing)}): apt-get install the *-doc packages")
    files = []
    for source, path in PDF_SOURCES.items():
        if path.suffix == ".gz":
            unpacked = folder / source / path.stem
            unpacked.parent.mkdir(parents=True, exist_ok=True)
            with gzip.open(path) as packed, unpacked.open("wb") as out:
                shutil.copyfileobj(packed, out)
            path = unpacked
        files.append(InputFile(source, path))
    return files


def select_files(per_source: int | None, sources: Mapping[str, Path] = SOURCES) -> list[InputFile]:
    """The same files every run: each source's pages ordered by a hash of their name (all
    sources, or the ones given)."""
    require_sources()
    chosen: list[InputFile] = []
    for source, folder in sources.items():
        paths = sorted(
            folder.glob("*.html"), key=lambda p: hashlib.sha256(p.name.encode()).digest()
        )
        chosen += [InputFile(source, path) for path in paths[:per_source]]
    return chosen


def corpus_summary(files: list[InputFile]) -> Json:
    sources: dict[str, Json] = {}
    for item in files:
        entry = sources.setdefault(item.source, {"files": 0, "bytes": 0})
        entry["files"] += 1
        entry["bytes"] += item.path.stat().st_size
    return {
        "files": len(files),
        "bytes": sum(s["bytes"] for s in sources.values()),
        "sources": sources,
        "selection": "per source: *.html ordered by sha256(file name), first N; PDFs whole",
    }


def add_files(
    name: str, files: list[InputFile], *, reader_groups: Sequence[str] = ()
) -> list[tuple[int, int]]:
    """Upload like the web does, but collect the ingest tasks instead of enqueueing them."""
    from kb.access import CONSOLE
    from kb.services import documents
    from kb.services.collections import collection_create
    from kb.services.users import groups_get_or_create
    from kb.uploads import IncomingFile

    queued: list[tuple[int, int]] = []
    groups_get_or_create(names=reader_groups)
    collection = collection_create(actor=CONSOLE, name=name, reader_groups=reader_groups)
    with mock.patch.object(documents, "_enqueue_ingest", lambda *task: queued.append(task)):
        for item in files:
            documents.document_add(
                collection=collection,
                incoming=IncomingFile(name=item.name, path=item.path),
                uploader=CONSOLE,
            )
    return queued
