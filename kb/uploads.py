"""Turning uploaded files (and .zip archives of folders) into files on disk, safely.

Everything here runs before a Document exists: a rejected upload creates nothing. Archives are
checked entry by entry against path traversal and expansion bombs, and the byte counts are
enforced while extracting, not only trusted from the archive's headers.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

MB = 1024 * 1024
COPY_BLOCK = 1024 * 1024
MAX_ZIP_RATIO = 200  # a text file compresses ~10x; hundreds of times is a bomb
SKIPPED_PREFIXES = ("__MACOSX/", ".")


class UploadRejected(Exception):
    """The whole request is refused with `status` and a message the user can act on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class UploadLimits:
    max_file_bytes: int
    max_zip_entries: int
    max_zip_total_bytes: int


@dataclass(frozen=True)
class IncomingFile:
    name: str  # relative path as the user named it, folders kept for archives
    path: Path


@dataclass(frozen=True)
class Upload:
    """One file of a request: its name and a readable binary stream with a known size."""

    name: str
    stream: IO[bytes]
    size: int


def receive(
    uploads: Iterable[Upload], *, workdir: Path, limits: UploadLimits
) -> list[IncomingFile]:
    """Write each upload to `workdir`, expanding archives; refuse the request on any bad file."""
    received: list[IncomingFile] = []
    for number, upload in enumerate(uploads):
        is_zip = upload.name.lower().endswith(".zip")
        limit = limits.max_zip_total_bytes if is_zip else limits.max_file_bytes
        check_size(upload.name, upload.size, limit)
        target = workdir / f"upload-{number}"
        with target.open("wb") as out:
            shutil.copyfileobj(upload.stream, out, COPY_BLOCK)
        if is_zip and zipfile.is_zipfile(target):
            received += expand_zip(target, workdir / f"zip-{number}", limits=limits)
        else:
            received.append(IncomingFile(name=clean_name(upload.name), path=target))
    if not received:
        raise UploadRejected(400, "No files were uploaded (use the multipart field `files`).")
    return received


def check_size(name: str, size: int, limit: int) -> None:
    if size > limit:
        raise UploadRejected(
            413, f"{name} is {size / MB:.1f} MB; the limit is {limit / MB:.0f} MB per file."
        )


def clean_name(name: str) -> str:
    """Only the last path component of a browser-supplied name is trusted."""
    return PurePosixPath(name.replace("\\", "/")).name or "unnamed"


def expand_zip(archive: Path, dest: Path, *, limits: UploadLimits) -> list[IncomingFile]:
    with zipfile.ZipFile(archive) as zf:
        files = [i for i in zf.infolist() if not i.is_dir()]
        for member in files:  # before skipping hidden names: "../x" must be refused, not skipped
            _check_entry_name(member.filename)
        members = [i for i in files if not _skipped(i.filename)]
        _check_archive(members, limits)
        dest.mkdir(parents=True)
        return [_extract(zf, member, dest, number, limits) for number, member in enumerate(members)]


def _skipped(name: str) -> bool:
    return any(part.startswith(SKIPPED_PREFIXES) for part in PurePosixPath(name).parts)


def _check_archive(members: list[zipfile.ZipInfo], limits: UploadLimits) -> None:
    if len(members) > limits.max_zip_entries:
        raise UploadRejected(
            413, f"The archive holds {len(members)} files; the limit is {limits.max_zip_entries}."
        )
    for member in members:
        check_size(member.filename, member.file_size, limits.max_file_bytes)
        if member.compress_size and member.file_size / member.compress_size > MAX_ZIP_RATIO:
            raise UploadRejected(
                413,
                f"{member.filename} expands {member.file_size // member.compress_size}x; "
                "the archive looks like a zip bomb and was refused.",
            )
    total = sum(m.file_size for m in members)
    if total > limits.max_zip_total_bytes:
        raise UploadRejected(
            413,
            f"The archive expands to {total / MB:.0f} MB; the limit is "
            f"{limits.max_zip_total_bytes / MB:.0f} MB.",
        )


def _check_entry_name(name: str) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
        raise UploadRejected(400, f"The archive entry {name!r} points outside the archive.")


def _extract(
    zf: zipfile.ZipFile, member: zipfile.ZipInfo, dest: Path, number: int, limits: UploadLimits
) -> IncomingFile:
    """Copy with a byte budget: headers can lie about sizes, the stream cannot."""
    target = dest / f"entry-{number}"
    budget = min(member.file_size, limits.max_file_bytes)
    with zf.open(member) as source, target.open("wb") as out:
        while block := source.read(COPY_BLOCK):
            budget -= len(block)
            if budget < 0:
                raise UploadRejected(413, f"{member.filename} is larger than its archive claims.")
            out.write(block)
    return IncomingFile(name=member.filename.replace("\\", "/"), path=target)
