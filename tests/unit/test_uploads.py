"""Upload safety: sizes, archive path traversal and expansion bombs are refused up front."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import pytest

from kb.uploads import Upload, UploadLimits, UploadRejected, clean_name, receive

pytestmark = pytest.mark.unit
LIMITS = UploadLimits(max_file_bytes=1_000_000, max_zip_entries=10, max_zip_total_bytes=3_000_000)


def _upload(name: str, data: bytes) -> Upload:
    return Upload(name=name, stream=io.BytesIO(data), size=len(data))


def _zip(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_plain_files_are_written_with_their_names(tmp_path: Path) -> None:
    received = receive([_upload("notes.txt", b"hello")], workdir=tmp_path, limits=LIMITS)

    assert [(f.name, f.path.read_bytes()) for f in received] == [("notes.txt", b"hello")]


def test_a_file_over_the_limit_is_refused_with_413_naming_the_limit(tmp_path: Path) -> None:
    big = _upload("big.pdf", b"x" * 1_000_001)

    with pytest.raises(UploadRejected) as raised:
        receive([big], workdir=tmp_path, limits=LIMITS)

    assert raised.value.status == 413
    assert "the limit is 1 MB" in raised.value.message


def test_a_zip_of_a_folder_expands_keeping_relative_paths(tmp_path: Path) -> None:
    archive = _zip({"docs/a.txt": b"a", "docs/sub/b.md": b"# b", "__MACOSX/._a.txt": b"junk"})

    received = receive([_upload("docs.zip", archive)], workdir=tmp_path, limits=LIMITS)

    assert sorted(f.name for f in received) == ["docs/a.txt", "docs/sub/b.md"]


@pytest.mark.parametrize(
    "entry",
    ["../evil.txt", "/etc/passwd", "docs/../../evil.txt", "C:/windows/evil.txt"],
    ids=["parent", "absolute", "nested-parent", "drive"],
)
def test_zip_entries_pointing_outside_are_refused(tmp_path: Path, entry: str) -> None:
    archive = _zip({"ok.txt": b"fine", entry: b"bad"})

    with pytest.raises(UploadRejected) as raised:
        receive([_upload("bad.zip", archive)], workdir=tmp_path, limits=LIMITS)

    assert raised.value.status == 400
    assert "points outside the archive" in raised.value.message
    assert not list(tmp_path.rglob("evil.txt"))


def test_a_highly_compressed_entry_is_refused_as_a_zip_bomb(tmp_path: Path) -> None:
    archive = _zip({"zeros.txt": b"\0" * 900_000})

    with pytest.raises(UploadRejected, match="zip bomb") as raised:
        receive([_upload("bomb.zip", archive)], workdir=tmp_path, limits=LIMITS)

    assert raised.value.status == 413


def test_too_many_entries_are_refused(tmp_path: Path) -> None:
    archive = _zip({f"f{n}.txt": b"x" for n in range(11)})

    with pytest.raises(UploadRejected, match="holds 11 files; the limit is 10"):
        receive([_upload("many.zip", archive)], workdir=tmp_path, limits=LIMITS)


def test_total_expanded_size_is_limited(tmp_path: Path) -> None:
    words = [f"w{random.Random(n).randrange(100_000)}" for n in range(150_000)]
    text = " ".join(words).encode()[:900_000]  # compresses ~3x: no bomb, but 4 x 900 KB
    archive = _zip({f"f{n}.txt": text for n in range(4)})

    with pytest.raises(UploadRejected, match="expands to"):
        receive([_upload("big.zip", archive)], workdir=tmp_path, limits=LIMITS)


def test_an_empty_request_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UploadRejected, match="No files were uploaded"):
        receive([], workdir=tmp_path, limits=LIMITS)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("../../etc/passwd", "passwd"), ("C:\\Users\\me\\report.pdf", "report.pdf"), ("", "unnamed")],
    ids=["traversal", "windows-path", "empty"],
)
def test_browser_supplied_names_keep_only_the_last_component(raw: str, clean: str) -> None:
    assert clean_name(raw) == clean
