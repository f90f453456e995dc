"""Archives of full run logs: the interface the operator uses, and the directory implementation.

An archive keeps one log per (namespace, JobRun, attempt). ``put`` stores a
stream and returns a reference, ``open`` reads it back by that reference and
``delete`` removes every attempt of a run when its JobRun goes. An object
store (S3, GCS) fits behind the same methods.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO, Protocol

# Namespace and JobRun names are DNS subdomains; checking them keeps every path inside the archive.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_ATTEMPT_FILE = re.compile(r"^attempt-([1-9][0-9]{0,5})\.log$")
_WRITE_CHUNK_BYTES = 256 * 1024


class ArchiveError(Exception):
    """An archive operation failed."""


class ArchiveNotFoundError(ArchiveError):
    """No archived log has this reference."""


class LogArchive(Protocol):
    """A store of full run logs, one per (namespace, JobRun, attempt)."""

    async def put(self, namespace: str, run: str, attempt: int, stream: AsyncIterable[bytes]) -> str:
        """Store the log of one attempt (replacing an earlier one) and return its reference."""
        ...

    def ref(self, namespace: str, run: str, attempt: int) -> str:
        """Return the reference of one attempt's log, whether it is stored or not."""
        ...

    async def open(self, ref: str) -> AsyncIterator[bytes]:
        """Return the stored log as chunks; raise ArchiveNotFoundError when there is none."""
        ...

    async def attempts(self, namespace: str, run: str) -> list[int]:
        """Return the attempt numbers stored for a run, ascending."""
        ...

    async def delete(self, namespace: str, run: str) -> None:
        """Remove every attempt's log of a run; a run with none is not an error."""
        ...

    async def runs(self) -> list[tuple[str, str]]:
        """Return (namespace, run) of every run with an archived log."""
        ...


def check_name(kind: str, value: str) -> str:
    """Return value if it is a valid Kubernetes namespace or object name, else raise ValueError."""
    if not _NAME.match(value):
        raise ValueError(f"invalid {kind} {value!r}: expected a lowercase DNS name such as 'team-a'")
    return value


def check_attempt(attempt: int) -> int:
    if not 1 <= attempt <= 999_999:
        raise ValueError(f"invalid attempt {attempt}: expected a number from 1")
    return attempt


class DirectoryArchive:
    """Logs as files ``<root>/<namespace>/<run>/attempt-<n>.log``, typically on a PersistentVolume.

    A reference is the file's absolute path. Files are written under a
    temporary name and renamed, so a reader never sees half a log. File I/O
    runs in threads, off the event loop.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    async def start(self) -> None:
        """Create the root folder; raise ArchiveError when it cannot be written."""
        try:
            await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
            writable = await asyncio.to_thread(os.access, self.root, os.W_OK)
        except OSError as error:
            raise ArchiveError(f"log archive folder {self.root} cannot be created: {error}") from error
        if not writable:
            raise ArchiveError(f"log archive folder {self.root} is not writable by this process")

    def _run_dir(self, namespace: str, run: str) -> Path:
        return self.root / check_name("namespace", namespace) / check_name("JobRun name", run)

    def _path(self, namespace: str, run: str, attempt: int) -> Path:
        return self._run_dir(namespace, run) / f"attempt-{check_attempt(attempt)}.log"

    def ref(self, namespace: str, run: str, attempt: int) -> str:
        return str(self._path(namespace, run, attempt))

    async def put(self, namespace: str, run: str, attempt: int, stream: AsyncIterable[bytes]) -> str:
        path = self._path(namespace, run, attempt)
        temporary = path.with_name(f".{path.name}.tmp")
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        handle = await asyncio.to_thread(open, temporary, "wb")
        try:
            pending = bytearray()
            async for chunk in stream:
                pending += chunk
                if len(pending) >= _WRITE_CHUNK_BYTES:
                    await asyncio.to_thread(handle.write, bytes(pending))
                    pending.clear()
            if pending:
                await asyncio.to_thread(handle.write, bytes(pending))
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(os.replace, temporary, path)
        except BaseException:
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(temporary.unlink, missing_ok=True)
            raise
        return str(path)

    def _resolve(self, ref: str) -> Path:
        path = Path(ref).resolve()
        if not path.is_relative_to(self.root) or not _ATTEMPT_FILE.match(path.name):
            raise ArchiveNotFoundError(f"{ref} is not a log in the archive {self.root}")
        return path

    async def open(self, ref: str) -> AsyncIterator[bytes]:
        path = self._resolve(ref)
        try:
            handle = await asyncio.to_thread(open, path, "rb")
        except FileNotFoundError:
            raise ArchiveNotFoundError(f"no archived log at {path}") from None
        return self._chunks(handle)

    async def _chunks(self, handle: BinaryIO) -> AsyncIterator[bytes]:
        try:
            while chunk := await asyncio.to_thread(handle.read, _WRITE_CHUNK_BYTES):
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    async def attempts(self, namespace: str, run: str) -> list[int]:
        folder = self._run_dir(namespace, run)
        try:
            names = await asyncio.to_thread(os.listdir, folder)
        except FileNotFoundError:
            return []
        return sorted(int(match[1]) for name in names if (match := _ATTEMPT_FILE.match(name)))

    async def delete(self, namespace: str, run: str) -> None:
        folder = self._run_dir(namespace, run)
        await asyncio.to_thread(shutil.rmtree, folder, ignore_errors=True)
        try:
            await asyncio.to_thread(folder.parent.rmdir)
        except OSError:
            pass  # the namespace folder contains other runs' logs

    async def runs(self) -> list[tuple[str, str]]:
        return await asyncio.to_thread(self._list_runs)

    def _list_runs(self) -> list[tuple[str, str]]:
        found = []
        for namespace in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            if not namespace.is_dir() or not _NAME.match(namespace.name):
                continue
            for run in sorted(namespace.iterdir()):
                if run.is_dir() and _NAME.match(run.name):
                    found.append((namespace.name, run.name))
        return found
