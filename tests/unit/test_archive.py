"""Unit tests of the directory log archive, on a temporary folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from punctual.archive import ArchiveNotFoundError, DirectoryArchive


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def read_all(archive: DirectoryArchive, ref: str) -> bytes:
    return b"".join([chunk async for chunk in await archive.open(ref)])


async def test_put_and_open_round_trip(tmp_path: Path):
    archive = DirectoryArchive(tmp_path)
    await archive.start()
    big = b"line\n" * 200_000  # 1 MB, more than one write chunk
    ref = await archive.put("team-a", "nightly-1767225600", 1, chunks(big[:300_000], big[300_000:]))
    assert ref == archive.ref("team-a", "nightly-1767225600", 1)
    assert Path(ref).is_file()
    assert await read_all(archive, ref) == big
    assert not list(Path(ref).parent.glob(".*.tmp"))


async def test_put_replaces_earlier_log(tmp_path: Path):
    archive = DirectoryArchive(tmp_path)
    ref = await archive.put("ns", "run", 1, chunks(b"first"))
    await archive.put("ns", "run", 1, chunks(b"second"))
    assert await read_all(archive, ref) == b"second"


async def test_failed_stream_leaves_no_file(tmp_path: Path):
    archive = DirectoryArchive(tmp_path)

    async def broken() -> AsyncIterator[bytes]:
        yield b"partial"
        raise OSError("connection reset")

    with pytest.raises(OSError):
        await archive.put("ns", "run", 1, broken())
    assert await archive.attempts("ns", "run") == []
    assert list((tmp_path / "ns" / "run").iterdir()) == []


async def test_attempts_and_delete(tmp_path: Path):
    archive = DirectoryArchive(tmp_path)
    for attempt in (2, 1, 10):
        await archive.put("ns", "run", attempt, chunks(b"x"))
    await archive.put("ns", "other", 1, chunks(b"y"))
    assert await archive.attempts("ns", "run") == [1, 2, 10]
    assert await archive.runs() == [("ns", "other"), ("ns", "run")]
    await archive.delete("ns", "run")
    assert await archive.attempts("ns", "run") == []
    assert await archive.runs() == [("ns", "other")]
    await archive.delete("ns", "other")
    assert not (tmp_path / "ns").exists()
    await archive.delete("ns", "never-archived")


async def test_open_missing_log(tmp_path: Path):
    archive = DirectoryArchive(tmp_path)
    with pytest.raises(ArchiveNotFoundError):
        await archive.open(archive.ref("ns", "run", 1))


@pytest.mark.parametrize("ref", ["/etc/passwd", "../../etc/passwd", "ns/run/attempt-1.log.tmp"])
async def test_open_rejects_paths_outside_archive(tmp_path: Path, ref: str):
    archive = DirectoryArchive(tmp_path / "archive")
    with pytest.raises(ArchiveNotFoundError):
        await archive.open(ref)


@pytest.mark.parametrize(("namespace", "run"), [("..", "run"), ("ns", "../x"), ("NS", "run"), ("ns", "a/b"), ("", "r")])
def test_invalid_names_are_rejected(tmp_path: Path, namespace: str, run: str):
    archive = DirectoryArchive(tmp_path)
    with pytest.raises(ValueError, match="invalid"):
        archive.ref(namespace, run, 1)


async def test_start_fails_on_unwritable_folder(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(Exception, match="cannot be created"):
        await DirectoryArchive(blocker / "archive").start()
