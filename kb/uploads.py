"""Turning uploaded files (and .zip archives of folders) into files on disk, safely.

Everything here runs before a Document exists: a rejected upload creates nothing. Archives are
checked entry by entry against path traversal and expansion bombs, and the byte counts are
enforced while extracting, not only trusted from the archive's headers.
"""

from __future__ import annotations

import lzma
import shutil
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

MB = 1024 * 1024
COPY_BLOCK = 1024 * 1024
MAX_ZIP_RATIO = 200  # a text file compresses ~10x; hundreds of times is a bomb
SKIPPED_PREFIXES = ("__MACOSX/", ".")
# Methods zipfile can read here; anything else (deflate64, implode, ppmd...) is refused up front.
READABLE_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
ENCRYPTED_FLAG = 0x1
METHOD_NAMES = {6: "implode", 9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstandard", 98: "ppmd"}
MAX_NAME_CHARS = 500  # Document.source_filename and title hold this many characters
# File systems allow 255 bytes per name; the rest is room for the suffix storage adds on clashes.
MAX_STORED_NAME_BYTES = 200


class UploadRejected(Exception):
    """The whole request is refused with `status` and a message the user can act on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class UploadLimits:
    max_file_bytes: int
    max_zip_entries: int  # files per request, archives expanded
    max_zip_total_bytes: int
    max_files: int = 100  # files (parts) per request, before expansion


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
    uploads = list(uploads)
    check_count(len(uploads), limits.max_files)
    received: list[IncomingFile] = []
    for number, upload in enumerate(uploads):
        is_zip = upload.name.lower().endswith(".zip")
        limit = limits.max_zip_total_bytes if is_zip else limits.max_file_bytes
        check_size(upload.name, upload.size, limit)
        target = workdir / f"upload-{number}"
        with target.open("wb") as out:
            shutil.copyfileobj(upload.stream, out, COPY_BLOCK)
        if is_zip:
            received += expand_zip(
                target, workdir / f"zip-{number}", limits=limits, label=clean_name(upload.name)
            )
        else:
            received.append(IncomingFile(name=fit_name(clean_name(upload.name)), path=target))
        _check_expanded_count(len(received), limits.max_zip_entries)
    if not received:
        raise UploadRejected(400, "No files were uploaded (use the multipart field `files`).")
    return received


def check_count(count: int, limit: int) -> None:
    if count > limit:
        raise too_many_files(limit)


def too_many_files(limit: int) -> UploadRejected:
    """Also raised for requests Django itself stops parsing (DATA_UPLOAD_MAX_NUMBER_FILES)."""
    return UploadRejected(413, f"Too many files in one upload; the limit is {limit} per request.")


def _check_expanded_count(count: int, limit: int) -> None:
    """Several archives in one request share the per-archive entry budget."""
    if count > limit:
        raise UploadRejected(
            413, f"The upload holds more than {limit} files with its archives expanded."
        )


def check_size(name: str, size: int, limit: int) -> None:
    if size > limit:
        raise UploadRejected(
            413, f"{name} is {size / MB:.1f} MB; the limit is {limit / MB:.0f} MB per file."
        )


def clean_name(name: str) -> str:
    """Only the last path component of a browser-supplied name is trusted."""
    return PurePosixPath(name.replace("\\", "/")).name or "unnamed"


def fit_name(name: str) -> str:
    """At most MAX_NAME_CHARS characters, extension kept: what the database can hold."""
    return _shortened(name, max_chars=MAX_NAME_CHARS, max_bytes=4 * MAX_NAME_CHARS)


def stored_name(name: str) -> str:
    """The last component of `name` short enough for any file system (MAX_STORED_NAME_BYTES of
    UTF-8), extension kept. Browsers and archives allow longer names than disks do; the
    document keeps the original as its name and title."""
    last = PurePosixPath(name).name or "unnamed"
    return _shortened(last, max_chars=MAX_STORED_NAME_BYTES, max_bytes=MAX_STORED_NAME_BYTES)


def _shortened(name: str, *, max_chars: int, max_bytes: int) -> str:
    def fits(text: str) -> bool:
        return len(text) <= max_chars and len(text.encode(errors="replace")) <= max_bytes

    if fits(name):
        return name
    suffix = PurePosixPath(name).suffix
    suffix = suffix if len(suffix) <= 20 else ""
    stem = name[: len(name) - len(suffix)][: max_chars - len(suffix)]
    while stem and not fits(stem + suffix):
        stem = stem[:-1]
    return stem + suffix


def expand_zip(
    archive: Path, dest: Path, *, limits: UploadLimits, label: str = "The archive"
) -> list[IncomingFile]:
    """A damaged archive (central directory, checksums, sizes) is the uploader's to fix: 400.
    `label` names it in messages: never the server path of the working copy."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = _members(zf, limits)
            dest.mkdir(parents=True)
            return [
                _extract(zf, member, dest, number, limits) for number, member in enumerate(members)
            ]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise UploadRejected(
            400, f"{label} is not a readable .zip archive ({_zip_problem(exc)})."
        ) from None


def _members(zf: zipfile.ZipFile, limits: UploadLimits) -> list[zipfile.ZipInfo]:
    for member in zf.infolist():  # before skipping hidden names: "../x" is refused, not skipped
        _check_entry_name(member.filename)
    files = [i for i in zf.infolist() if not i.is_dir()]
    for member in files:
        _check_entry_format(member)
    members = [i for i in files if not _skipped(i.filename)]
    _check_archive(members, limits)
    return members


def _zip_problem(exc: Exception) -> str:
    """zipfile's own words up to any detail after a colon (a name, an offset)."""
    return str(exc).split(":")[0].strip().rstrip(".") or type(exc).__name__


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
    if not path.parts:
        raise UploadRejected(400, "The archive holds an entry without a name.")
    if path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
        raise UploadRejected(400, f"The archive entry {name!r} points outside the archive.")


def _check_entry_format(member: zipfile.ZipInfo) -> None:
    if member.flag_bits & ENCRYPTED_FLAG:
        raise UploadRejected(
            400, f"{member.filename} is encrypted in the archive; upload an unencrypted archive."
        )
    if member.compress_type not in READABLE_METHODS:
        method = METHOD_NAMES.get(member.compress_type, f"method {member.compress_type}")
        raise UploadRejected(
            400,
            f"{member.filename} is compressed with {method}, which is not supported; "
            "re-create the archive with the standard (deflate) method.",
        )


def _extract(
    zf: zipfile.ZipFile, member: zipfile.ZipInfo, dest: Path, number: int, limits: UploadLimits
) -> IncomingFile:
    """Copy with a byte budget: headers can lie about sizes, the stream cannot. zipfile stops
    at the claimed size and checks the CRC; data shorter than claimed is refused here."""
    target = dest / f"entry-{number}"
    budget = min(member.file_size, limits.max_file_bytes)
    written = 0
    with zf.open(member) as source, target.open("wb") as out:
        while block := _read_entry(source):
            written += len(block)
            if written > budget:
                raise UploadRejected(413, f"{member.filename} is larger than its archive claims.")
            out.write(block)
    if written != member.file_size:
        raise UploadRejected(400, f"{member.filename} is shorter than its archive claims.")
    return IncomingFile(name=fit_name(member.filename.replace("\\", "/")), path=target)


def _read_entry(source: IO[bytes]) -> bytes:
    """Damaged compressed data raises the decompressor's own error; it is the archive's fault."""
    try:
        return source.read(COPY_BLOCK)
    except (zlib.error, lzma.LZMAError, OSError) as exc:
        raise zipfile.BadZipFile("damaged compressed data") from exc
