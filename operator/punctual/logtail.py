"""Pure parts of log capture: keeping the end of a byte stream and fitting tails into a JobRun status.

No I/O here. ``logcapture`` reads pod logs and feeds the bytes in; the
functions here decide what text, flags and notes go into ``status.logs`` and
``status.attempts[i].logs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from punctual.models import Attempt, JobRunStatus, RunLogs, format_time

DEFAULT_TAIL_BYTES = 16 * 1024
# Hard cap of one tail. The API server rejects objects above about 1.5 MiB
# (etcd's default request limit), and one JobRun carries several tails.
MAX_TAIL_BYTES = 256 * 1024
# All tails of one JobRun together (status.logs and every attempt's logs).
STATUS_TAILS_BUDGET_BYTES = 768 * 1024
# The first and the later bytes of a UTF-8 sequence: a cut may start inside one.
_CONTINUATION_MASK, _CONTINUATION = 0b1100_0000, 0b1000_0000


def section_header(container: str) -> str:
    """Return the line that starts a container's part of a multi-container log."""
    return f"==> container {container} <==\n"


def _drop_partial_character(data: bytes) -> bytes:
    """Drop the continuation bytes at the start of data, left over from a character cut in two."""
    start = 0
    while start < min(len(data), 3) and data[start] & _CONTINUATION_MASK == _CONTINUATION:
        start += 1
    return data[start:]


class TailBuffer:
    """The last limit bytes of a stream, and the size and line count of the whole stream."""

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError(f"tail limit {limit} is negative")
        self.limit = limit
        self.total = 0
        self.newlines = 0
        self._data = bytearray()

    def write(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.newlines += chunk.count(b"\n")
        self._data += chunk
        # Trim only when twice the limit is held, so a stream of small chunks is not copied per chunk.
        if len(self._data) > 2 * self.limit:
            del self._data[: len(self._data) - self.limit]

    @property
    def truncated(self) -> bool:
        return self.total > self.limit

    def text(self) -> str:
        data = bytes(self._data[-self.limit :]) if self.limit else b""
        if self.truncated:
            data = _drop_partial_character(data)
        return data.decode("utf-8", errors="replace")


def keep_end(text: str, limit: int) -> tuple[str, bool]:
    """Return the end of text that fits in limit UTF-8 bytes, and whether anything was cut."""
    data = text.encode()
    if len(data) <= limit:
        return text, False
    return _drop_partial_character(data[len(data) - limit :]).decode("utf-8", errors="replace"), True


def tail_lines_for(budget: int) -> int:
    """Return the tailLines to request so that the reply contains the last budget bytes.

    Every line has at least one byte (its newline), so the last budget lines
    contain the last budget bytes of the log.
    """
    return max(1, budget)


def fewer_lines(lines: int, received_bytes: int, received_lines: int, limit_bytes: int) -> int:
    """Return a smaller tailLines for a retry after a reply of lines lines hit limit_bytes.

    Aims at half the byte limit with the average line length seen so far.
    """
    average = received_bytes / max(1, received_lines)
    target = int(limit_bytes / 2 / average)
    return max(1, min(lines // 2, target))


@dataclass(frozen=True)
class Section:
    """One container's captured log."""

    container: str
    text: str
    truncated: bool


def join_sections(sections: list[Section]) -> str:
    """Join container logs, each after a header line when there are several containers."""
    if len(sections) == 1:
        return sections[0].text
    parts = []
    for section in sections:
        text = section.text
        if text and not text.endswith("\n"):
            text += "\n"
        parts.append(section_header(section.container) + text)
    return "".join(parts)


def allocate(budget: int, sizes: list[int]) -> list[int]:
    """Split budget bytes among logs of the given sizes: short logs keep all, long ones share the rest equally."""
    shares = [0] * len(sizes)
    remaining = budget
    order = sorted(range(len(sizes)), key=lambda index: sizes[index])
    for position, index in enumerate(order):
        share = min(sizes[index], remaining // (len(sizes) - position))
        shares[index] = share
        remaining -= share
    return shares


def tail_size(text: str | None) -> int:
    return len(text.encode()) if text else 0


# ---------------------------------------------------------------- merging a capture into a status


def attempt_index(status: JobRunStatus, job_name: str) -> int | None:
    """Return the index in status.attempts of the attempt whose Job is job_name."""
    for index, attempt in enumerate(status.attempts or []):
        if attempt.jobName == job_name:
            return index
    return None


def attempt_number(status: JobRunStatus, job_name: str) -> int:
    """Return the 1-based number of the attempt whose Job is job_name (1 when not listed yet)."""
    index = attempt_index(status, job_name)
    return 1 if index is None else index + 1


def is_latest_attempt(status: JobRunStatus, job_name: str) -> bool:
    if status.jobName:
        return status.jobName == job_name
    attempts = status.attempts or []
    return not attempts or attempts[-1].jobName == job_name


def attempt_logs(status: JobRunStatus, job_name: str) -> RunLogs | None:
    """Return the captured log of the attempt whose Job is job_name."""
    index = attempt_index(status, job_name)
    if index is not None and (status.attempts or [])[index].logs is not None:
        return (status.attempts or [])[index].logs
    if is_latest_attempt(status, job_name):
        return status.logs
    return None


def merge_logs(current: RunLogs | None, new: RunLogs) -> RunLogs | None:
    """Return what an attempt's log becomes when a new capture arrives, or None to keep current.

    A capture replaces the one before unless that one was read after the same
    pod's containers ended (final). A capture without text (the log could not
    be read) keeps the text captured before and adds its note.
    """
    if current is None:
        return new
    if current.final and current.pod == new.pod and (current.tail is not None or current.archiveRef is not None):
        return None
    if new.tail is not None or new.archiveRef is not None:
        unchanged = new.model_copy(update={"capturedTime": current.capturedTime}) == current
        return None if unchanged else new
    if current.tail is None and current.archiveRef is None:
        return new if new != current else None
    note = new.note or ""
    if current.pod != new.pod:
        note += f"; the text is the log of the earlier pod {current.pod}"
    elif current.capturedTime is not None:
        note += f"; the text is what the pod's log held at {format_time(current.capturedTime)}"
    return current.model_copy(update={"note": note}) if note != current.note else None


def with_capture(status: JobRunStatus, job_name: str, logs: RunLogs) -> JobRunStatus:
    """Return status with a capture of Job job_name's pod merged into its attempt and, if latest, status.logs."""
    merged = merge_logs(attempt_logs(status, job_name), logs)
    if merged is None:
        return status
    update: dict[str, object] = {}
    index = attempt_index(status, job_name)
    if index is not None:
        attempts = list(status.attempts or [])
        attempts[index] = attempts[index].model_copy(update={"logs": merged})
        update["attempts"] = attempts
    if is_latest_attempt(status, job_name):
        update["logs"] = merged
    if not update:
        return status
    return fit_budget(status.model_copy(update=update), STATUS_TAILS_BUDGET_BYTES)


def fit_budget(status: JobRunStatus, budget: int) -> JobRunStatus:
    """Shorten the tails of the oldest attempts until all tails of the status fit in budget bytes.

    status.logs, the latest attempt's capture, is never shortened here: its
    size is already bounded by MAX_TAIL_BYTES.
    """
    attempts = list(status.attempts or [])
    total = tail_size(status.logs.tail if status.logs else None) + sum(
        tail_size(attempt.logs.tail) for attempt in attempts if attempt.logs
    )
    if total <= budget:
        return status
    latest = len(attempts) - 1 if status.logs is not None else len(attempts)
    for index, attempt in enumerate(attempts):
        if total <= budget or index >= latest:
            break
        logs = attempt.logs
        if logs is None or not logs.tail:
            continue
        size = tail_size(logs.tail)
        keep = max(0, size - (total - budget))
        text, _ = keep_end(logs.tail, keep)
        attempts[index] = _shortened(attempt, logs, text)
        total -= size - tail_size(text)
    return status.model_copy(update={"attempts": attempts})


def _shortened(attempt: Attempt, logs: RunLogs, text: str) -> Attempt:
    note = "shortened to keep the JobRun under the API server's object size limit"
    shortened = logs.model_copy(
        update={
            "tail": text,
            "truncated": True,
            "capturedBytes": tail_size(text),
            "note": f"{logs.note}; {note}" if logs.note and note not in logs.note else (logs.note or note),
        }
    )
    return attempt.model_copy(update={"logs": shortened})


def needs_final_capture(status: JobRunStatus) -> str | None:
    """Return the Job whose pod log is still to be read for a finished run, or None.

    A terminal run whose latest attempt has neither a capture made after its
    containers ended nor a note saying why none could be made needs one more try.
    """
    if status.phase is None or not status.phase.terminal or not status.jobName:
        return None
    logs = attempt_logs(status, status.jobName)
    if logs is not None and (logs.final or logs.note):
        return None
    return status.jobName


def note_only(pod: str | None, note: str, now: datetime) -> RunLogs:
    """Return a capture result that has no text, only the reason why."""
    return RunLogs(pod=pod, note=note, capturedTime=now)
