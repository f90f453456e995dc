"""Unit tests of the pure log-capture helpers: tails, sections, merging and the status size budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from punctual import logtail
from punctual.models import Attempt, JobRunStatus, RunLogs, RunPhase

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def capture(pod: str = "run-1-abcde", tail: str | None = "hello\n", *, final: bool = True, note: str | None = None,
            at: datetime = NOW) -> RunLogs:
    return RunLogs(pod=pod, tail=tail, final=final, note=note, capturedTime=at,
                   capturedBytes=logtail.tail_size(tail))


def test_tail_buffer_keeps_last_bytes_across_chunks():
    buffer = logtail.TailBuffer(10)
    for chunk in (b"0123456789", b"abcdefghij", b"XYZ"):
        buffer.write(chunk)
    assert buffer.text() == "defghijXYZ"
    assert buffer.total == 23
    assert buffer.truncated


def test_tail_buffer_short_stream_is_whole():
    buffer = logtail.TailBuffer(100)
    buffer.write(b"one\ntwo\n")
    assert buffer.text() == "one\ntwo\n"
    assert buffer.newlines == 2
    assert not buffer.truncated


def test_tail_buffer_drops_half_a_character():
    buffer = logtail.TailBuffer(4)
    buffer.write("aé€".encode())  # 1 + 2 + 3 bytes; the last 4 bytes start inside é
    assert buffer.text() == "€"


@given(st.lists(st.binary(max_size=50), max_size=30), st.integers(min_value=0, max_value=120))
def test_tail_buffer_matches_slicing(chunks: list[bytes], limit: int):
    buffer = logtail.TailBuffer(limit)
    for chunk in chunks:
        buffer.write(chunk)
    whole = b"".join(chunks)
    assert buffer.total == len(whole)
    assert buffer.truncated == (len(whole) > limit)
    if not buffer.truncated:
        assert buffer.text() == whole.decode("utf-8", errors="replace")
    elif limit:
        # The kept bytes are the last limit bytes, less up to 3 continuation bytes of a character cut in two.
        kept = whole[-limit:]
        skipped = 0
        while skipped < min(3, len(kept)) and kept[skipped] & 0xC0 == 0x80:
            skipped += 1
        assert buffer.text() == kept[skipped:].decode("utf-8", errors="replace")


def test_keep_end_cuts_at_character_boundary():
    text, cut = logtail.keep_end("ab€", 4)
    assert text == "b€"
    assert cut
    assert logtail.keep_end("short", 100) == ("short", False)


def test_tail_lines_cover_budget():
    assert logtail.tail_lines_for(16384) == 16384
    assert logtail.tail_lines_for(0) == 1


def test_fewer_lines_shrinks_for_long_lines():
    # 1000 lines of 200 bytes filled a 200 000-byte limit: ask for about 500 lines.
    assert logtail.fewer_lines(16384, 200_000, 1000, 200_000) == 500
    assert logtail.fewer_lines(2, 200_000, 0, 100_000) == 1


def test_join_sections_single_container_has_no_header():
    assert logtail.join_sections([logtail.Section("main", "text\n", False)]) == "text\n"


def test_join_sections_prefixes_each_container():
    joined = logtail.join_sections([logtail.Section("init", "a", False), logtail.Section("main", "b\n", False)])
    assert joined == "==> container init <==\na\n==> container main <==\nb\n"


@given(st.integers(min_value=0, max_value=10_000), st.lists(st.integers(min_value=0, max_value=5_000), max_size=6))
def test_allocate_stays_within_budget(budget: int, sizes: list[int]):
    shares = logtail.allocate(budget, sizes)
    assert sum(shares) <= budget
    assert all(0 <= share <= size for share, size in zip(shares, sizes, strict=True))
    if sum(sizes) <= budget:
        assert shares == sizes


def test_allocate_gives_short_logs_all_they_need():
    assert logtail.allocate(100, [10, 500, 500]) == [10, 45, 45]


def test_merge_keeps_final_capture_of_same_pod():
    final = capture()
    assert logtail.merge_logs(final, capture(tail="later snapshot", final=False)) is None
    assert logtail.merge_logs(final, capture(tail="again")) is None


def test_merge_final_replaces_snapshot():
    snapshot = capture(tail="partial", final=False)
    final = capture(tail="partial and the end")
    assert logtail.merge_logs(snapshot, final) == final


def test_merge_unchanged_snapshot_is_no_write():
    first = capture(tail="same", final=False)
    later = capture(tail="same", final=False, at=NOW + timedelta(minutes=1))
    assert logtail.merge_logs(first, later) is None


def test_merge_failed_read_keeps_snapshot_text():
    snapshot = capture(tail="what it logged", final=False)
    failed = logtail.note_only("run-1-abcde", "pod run-1-abcde was deleted before its final log could be read", NOW)
    merged = logtail.merge_logs(snapshot, failed)
    assert merged is not None
    assert merged.tail == "what it logged"
    assert merged.note.startswith("pod run-1-abcde was deleted")
    assert "2026-03-01T12:00:00Z" in merged.note
    assert not merged.final


def test_failed_read_keeps_earlier_pod_text():
    older = capture(pod="run-1-aaaaa", tail="first pod's log")
    failed = logtail.note_only("run-1-bbbbb", "pod run-1-bbbbb was deleted before its final log could be read", NOW)
    merged = logtail.merge_logs(older, failed)
    assert merged is not None
    assert merged.tail == "first pod's log"
    assert "earlier pod run-1-aaaaa" in merged.note


def test_failed_read_after_final_is_ignored():
    final = capture()
    assert logtail.merge_logs(final, logtail.note_only("run-1-abcde", "deleted", NOW)) is None


def two_attempts() -> JobRunStatus:
    return JobRunStatus(
        phase=RunPhase.RUNNING,
        jobName="run-1-a2",
        attempts=[Attempt(jobName="run-1"), Attempt(jobName="run-1-a2")],
    )


def test_with_capture_of_latest_attempt_sets_run_logs():
    logs = capture(pod="run-1-a2-xyz")
    status = logtail.with_capture(two_attempts(), "run-1-a2", logs)
    assert status.logs == logs
    assert status.attempts[1].logs == logs
    assert status.attempts[0].logs is None


def test_with_capture_of_earlier_attempt_leaves_run_logs():
    logs = capture(pod="run-1-xyz")
    status = logtail.with_capture(two_attempts(), "run-1", logs)
    assert status.logs is None
    assert status.attempts[0].logs == logs


def test_with_capture_without_attempts_sets_run_logs():
    status = logtail.with_capture(JobRunStatus(jobName="run-1"), "run-1", capture())
    assert status.logs is not None
    assert status.logs.tail == "hello\n"


def test_attempt_number_is_one_based():
    assert logtail.attempt_number(two_attempts(), "run-1-a2") == 2
    assert logtail.attempt_number(JobRunStatus(), "run-1") == 1


def test_fit_budget_shortens_oldest_attempt_first():
    big = "x" * 1000
    status = JobRunStatus(
        jobName="j3",
        attempts=[Attempt(jobName=f"j{n}", logs=capture(pod=f"p{n}", tail=big)) for n in (1, 2, 3)],
        logs=capture(pod="p3", tail=big),
    )
    fitted = logtail.fit_budget(status, 3500)
    sizes = [logtail.tail_size(attempt.logs.tail) for attempt in fitted.attempts]
    assert sizes == [500, 1000, 1000]
    assert fitted.attempts[0].logs.truncated
    assert "object size limit" in fitted.attempts[0].logs.note
    assert fitted.logs.tail == big


def test_fit_budget_within_budget_is_unchanged():
    status = JobRunStatus(jobName="j1", attempts=[Attempt(jobName="j1", logs=capture())], logs=capture())
    assert logtail.fit_budget(status, 10_000) == status


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (JobRunStatus(phase=RunPhase.RUNNING, jobName="j"), None),
        (JobRunStatus(phase=RunPhase.SUCCEEDED, jobName="j"), "j"),
        (JobRunStatus(phase=RunPhase.SUCCEEDED, jobName="j", logs=capture(final=False)), "j"),
        (JobRunStatus(phase=RunPhase.SUCCEEDED, jobName="j", logs=capture()), None),
        (JobRunStatus(phase=RunPhase.FAILED, jobName="j", logs=logtail.note_only(None, "no pods", NOW)), None),
        (JobRunStatus(phase=RunPhase.SKIPPED), None),
    ],
)
def test_needs_final_capture(status: JobRunStatus, expected: str | None):
    assert logtail.needs_final_capture(status) == expected
