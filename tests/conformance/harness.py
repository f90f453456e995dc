"""Differential conformance of Punctual's schedule engine against robfig/cron v3.

Hypothesis draws cases (an expression, a time zone, a start instant and a count), the
Go program in robfig/ computes robfig/cron's next occurrences, and Punctual computes
its own. Every mismatch is classified: it is explained when each differing instant is
one of the documented differences (see docs/schedule-semantics.md), and unexplained
otherwise.

    python tests/conformance/harness.py --cases 100000

prints ``cases N mismatches N explained N unexplained N`` and, when any mismatch is
unexplained, a few examples, and exits 1 in that case.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from punctual.schedule import ScheduleError, parse_schedule
from punctual.schedule.cron import MACROS, CronSpec, parse_cron
from punctual.schedule.every import parse_every

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cron_strategies import (  # noqa: E402
    ZONES,
    RandomPicker,
    build_expression,
    build_start,
    latest_transition,
)

UTC = timezone.utc
GO_PROGRAM_DIR = Path(__file__).resolve().parent / "robfig"
DEFAULT_SEED = 20260329
DEFAULT_COUNT = 8
CASES_PER_EXAMPLE = 50

# Classes of explained differences, as named in docs/schedule-semantics.md.
EVERY_ANCHOR = "every-anchor"
DST_GAP_SHIFT = "dst-gap-shift"
DST_FOLD_ONCE = "dst-fold-once"
DAY_FIELD_STAR = "day-field-star"
ROBFIG_HALF_HOUR_DRIFT = "robfig-half-hour-drift"
ROBFIG_MIDNIGHT_GAP_DAY = "robfig-midnight-gap-day"
ROBFIG_REJECTS_DOW_7 = "robfig-rejects-dow-7"
ROBFIG_FIVE_YEAR_LIMIT = "robfig-five-year-limit"


@dataclass(frozen=True)
class Case:
    expression: str
    time_zone: str
    start: datetime
    count: int

    def to_request(self) -> str:
        return json.dumps(
            {
                "expression": self.expression,
                "time_zone": self.time_zone,
                "start": self.start.isoformat(),
                "count": self.count,
            }
        )


@dataclass(frozen=True)
class Result:
    """Next occurrences, or the parse error when ``error`` is set."""

    times: tuple[datetime, ...] = ()
    error: str | None = None


@dataclass
class Tally:
    cases: int = 0
    mismatches: int = 0
    explained: int = 0
    unexplained: int = 0
    classes: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"cases {self.cases} mismatches {self.mismatches} "
            f"explained {self.explained} unexplained {self.unexplained}"
        )


# --- The Go program


def binary_path() -> Path:
    cache = os.environ.get("PUNCTUAL_CACHE") or str(Path.home() / ".cache" / "punctual")
    return Path(cache) / "bin" / "robfig-conformance"


def ensure_binary(path: Path | None = None) -> Path:
    """Build the Go program unless an up-to-date binary exists, and return its path.

    Raises RuntimeError when Go is not installed or the build fails.
    """
    path = path or binary_path()
    sources = [GO_PROGRAM_DIR / name for name in ("main.go", "go.mod", "go.sum")]
    newest_source = max(source.stat().st_mtime for source in sources)
    if path.exists() and path.stat().st_mtime >= newest_source:
        return path
    go = shutil.which("go")
    if go is None:
        raise RuntimeError(
            "go was not found on PATH; install Go 1.22 or later to build the robfig/cron "
            f"conformance program in {GO_PROGRAM_DIR}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="-modcacherw")
    print(f"building {path} from {GO_PROGRAM_DIR}", file=sys.stderr)
    completed = subprocess.run(
        [go, "build", "-o", str(path), "."],
        cwd=GO_PROGRAM_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"building the robfig/cron conformance program failed:\n{completed.stderr}")
    return path


def run_robfig(binary: Path, cases: Sequence[Case]) -> list[Result]:
    """Return robfig/cron's result for each case, in order."""
    requests = "".join(case.to_request() + "\n" for case in cases)
    completed = subprocess.run(
        [str(binary)], input=requests, capture_output=True, text=True, timeout=1800
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{binary} failed with exit code {completed.returncode}: {completed.stderr}")
    lines = completed.stdout.splitlines()
    if len(lines) != len(cases):
        raise RuntimeError(f"{binary} returned {len(lines)} results for {len(cases)} cases")
    results = []
    for line in lines:
        decoded = json.loads(line)
        if decoded.get("error"):
            results.append(Result(error=decoded["error"]))
        else:
            times = tuple(datetime.fromisoformat(text) for text in decoded.get("times") or ())
            results.append(Result(times=times))
    return results


def run_punctual(case: Case) -> Result:
    try:
        schedule = parse_schedule(case.expression, time_zone=case.time_zone)
    except ScheduleError as error:
        return Result(error=str(error))
    return Result(times=tuple(schedule.next_times(case.start, case.count)))


# --- Case generation


def random_case(rng: random.Random, count: int = DEFAULT_COUNT) -> Case:
    """Build one case from a random.Random that Hypothesis seeded."""
    pick = RandomPicker(rng)
    time_zone = pick.choice(ZONES)
    expression = build_expression(pick)
    return Case(expression, time_zone, build_start(pick, time_zone), count)


def generate_cases(number: int, random_seed: int, count: int = DEFAULT_COUNT) -> list[Case]:
    """Draw ``number`` distinct cases that Punctual accepts, reproducibly for a seed.

    Each Hypothesis example is a batch of seeds, because the engine's fixed cost per
    example is several times the cost of building one case.
    """
    drawn: list[Case] = []
    seen: set[Case] = set()
    seeds = st.randoms(use_true_random=True)
    batch = st.lists(seeds, min_size=CASES_PER_EXAMPLE, max_size=CASES_PER_EXAMPLE)

    @settings(
        max_examples=number // CASES_PER_EXAMPLE + 1,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(batch)
    def collect(generators: list[random.Random]) -> None:
        for rng in generators:
            case = random_case(rng, count)
            if len(drawn) < number and case not in seen and run_punctual_accepts(case):
                seen.add(case)
                drawn.append(case)

    # Hypothesis can end a run before max_examples, so run again with the next seed.
    for attempt in range(100):
        if len(drawn) >= number:
            break
        seed(random_seed + attempt)(collect)()
    return drawn


def run_punctual_accepts(case: Case) -> bool:
    try:
        parse_schedule(case.expression, time_zone=case.time_zone)
    except ScheduleError:
        return False
    return True


# --- Classification


def classify(case: Case, punctual: Result, robfig: Result) -> tuple[bool, set[str]]:
    """Return (mismatch, classes). A mismatch with an empty class set is unexplained."""
    if punctual.error or robfig.error:
        if punctual.error and robfig.error:
            return False, set()
        return True, _classify_acceptance(case, punctual, robfig)
    if punctual.times == robfig.times:
        return False, set()
    if case.expression.startswith("@every"):
        return True, _classify_every(case, punctual, robfig)
    return True, _classify_cron(case, punctual, robfig)


def _classify_acceptance(case: Case, punctual: Result, robfig: Result) -> set[str]:
    """Explain robfig/cron rejecting day-of-week 7, which its bounds (0-6) exclude."""
    parts = case.expression.split()
    day_of_week = parts[4] if len(parts) == 5 else ""
    numbers = [
        bound for item in day_of_week.split(",") for bound in item.partition("/")[0].split("-")
    ]
    if (
        punctual.error is None
        and robfig.error is not None
        and "(7)" in robfig.error
        and "7" in numbers
    ):
        return {ROBFIG_REJECTS_DOW_7}
    return set()


def _classify_every(case: Case, punctual: Result, robfig: Result) -> set[str]:
    """Explain an @every mismatch when both sides keep the interval but anchor differently.

    robfig/cron counts from the start instant truncated to the second, and Punctual
    from the Unix epoch.
    """
    interval = timedelta(seconds=parse_every(case.expression, field="spec.schedule").interval_seconds)
    both_spaced = all(
        later - earlier == interval
        for times in (punctual.times, robfig.times)
        for earlier, later in zip(times, times[1:])
    )
    if (
        both_spaced
        and len(punctual.times) == len(robfig.times) == case.count
        and robfig.times[0] == case.start.replace(microsecond=0) + interval
        and punctual.times[0] - interval <= case.start < punctual.times[0]
    ):
        return {EVERY_ANCHOR}
    return set()


def _classify_cron(case: Case, punctual: Result, robfig: Result) -> set[str]:
    if not punctual.times:
        return set()
    if len(robfig.times) < case.count:
        # robfig/cron stopped early: it found nothing more within its search limit,
        # so every later Punctual instant is a difference too.
        horizon = punctual.times[-1]
    else:
        horizon = min(punctual.times[-1], robfig.times[-1])
    only_punctual = {t for t in punctual.times if t <= horizon} - set(robfig.times)
    only_robfig = {t for t in robfig.times if t <= horizon} - set(punctual.times)
    if not only_punctual and not only_robfig:
        return set()
    spec = parse_cron(case.expression, hash_key="", field="spec.schedule")
    zone = ZoneInfo(case.time_zone)
    classes: set[str] = set()
    for instant in only_punctual:
        reason = _explain_punctual_only(instant, spec, zone, case, robfig.times)
        if reason is None:
            return set()
        classes.add(reason)
    for instant in only_robfig:
        reason = _explain_robfig_only(instant, spec, zone, case, punctual.times, robfig.times)
        if reason is None:
            return set()
        classes.add(reason)
    return classes


def _explain_punctual_only(
    instant: datetime,
    spec: CronSpec,
    zone: ZoneInfo,
    case: Case,
    robfig_times: Sequence[datetime],
) -> str | None:
    naive = instant.astimezone(zone).replace(tzinfo=None)
    day_matches = spec.matches_day(naive.date())
    robfig_day = _robfig_day_matches(case.expression, spec, naive)
    if day_matches and not robfig_day and _time_matches(spec, naive):
        return DAY_FIELD_STAR
    gap = _gap_ending_at(instant, zone)
    if spec.wall_clock and gap is not None:
        # Some local time in the gap must match, a time robfig/cron never reaches.
        probe, gap_end = gap
        while probe < gap_end:
            if spec.matches_day(probe.date()) and _time_matches(spec, probe):
                return DST_GAP_SHIFT
            probe += timedelta(minutes=1)
    drift = _robfig_half_hour_drift(instant, case, robfig_times)
    if drift and day_matches and _time_matches(spec, naive):
        return ROBFIG_HALF_HOUR_DRIFT
    if _beyond_robfig_search(instant, zone, case, robfig_times):
        return ROBFIG_FIVE_YEAR_LIMIT
    return None


def _beyond_robfig_search(
    instant: datetime, zone: ZoneInfo, case: Case, robfig_times: Sequence[datetime]
) -> bool:
    """Return whether robfig/cron gave up before ``instant``.

    robfig/cron's Next returns the zero time once its search passes the year five
    years after the year of the time it started from (spec.go ``yearLimit``).
    """
    earlier = [other for other in robfig_times if other < instant]
    if len(earlier) != len(robfig_times) or len(robfig_times) >= case.count:
        return False
    searched_from = robfig_times[-1] if robfig_times else case.start
    return instant.astimezone(zone).year > searched_from.astimezone(zone).year + 5


def _robfig_half_hour_drift(
    instant: datetime, case: Case, robfig_times: Sequence[datetime]
) -> bool:
    """Return whether ``instant`` falls where robfig/cron skips after a 30-minute shift.

    robfig/cron's Next truncates to the hour in the zone's old offset and then adds
    whole hours, so after a 30-minute DST change (Lord Howe Island) it checks hh:30
    instead of hh:00 and skips matches until a later call realigns. The instant counts
    when such a shift happened before it and robfig/cron returned nothing since.
    """
    transition = latest_transition(case.time_zone, instant)
    if transition is None or transition < case.start - timedelta(days=1):
        return False
    zone = ZoneInfo(case.time_zone)
    before = (transition - timedelta(seconds=1)).astimezone(zone).utcoffset()
    after = transition.astimezone(zone).utcoffset()
    if before is None or after is None or abs(after - before) != timedelta(minutes=30):
        return False
    return not any(transition <= other < instant for other in robfig_times)


def _explain_robfig_only(
    instant: datetime,
    spec: CronSpec,
    zone: ZoneInfo,
    case: Case,
    punctual_times: Sequence[datetime],
    robfig_times: Sequence[datetime],
) -> str | None:
    naive = instant.astimezone(zone).replace(tzinfo=None)
    day_matches = spec.matches_day(naive.date())
    robfig_day = _robfig_day_matches(case.expression, spec, naive)
    if robfig_day and not day_matches and _time_matches(spec, naive):
        return DAY_FIELD_STAR
    midnight = naive.replace(hour=0, minute=0)
    midnight_missing = (
        midnight.replace(tzinfo=zone, fold=0).utcoffset()
        < midnight.replace(tzinfo=zone, fold=1).utcoffset()
    )
    if not _time_matches(spec, naive) and _robfig_half_hour_drift(instant, case, robfig_times):
        # After a 30-minute spring-forward its minute loop does not pass minute 0, so
        # it returns a time in an hour that the expression does not list.
        return ROBFIG_HALF_HOUR_DRIFT
    if midnight_missing and not robfig_day and not day_matches and _time_matches(spec, naive):
        # robfig/cron's Next re-checks the day only when its hour loop reaches hour 0.
        # On a day whose midnight is skipped (Chile springs forward at 24:00), the
        # loop passes from 23:00 to 01:00 and returns a time on a day that does not match.
        return ROBFIG_MIDNIGHT_GAP_DAY
    first_pass = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second_pass = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if (
        spec.wall_clock
        and first_pass < second_pass == instant
        and day_matches
        and _time_matches(spec, naive)
        and (first_pass in punctual_times or first_pass <= case.start)
    ):
        # The second pass of a repeated local time, whose first pass Punctual ran.
        return DST_FOLD_ONCE
    return None


def _time_matches(spec: CronSpec, naive: datetime) -> bool:
    return naive.hour * 60 + naive.minute in spec.minutes_of_day and naive.second == 0


def _gap_ending_at(instant: datetime, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    """Return the naive local [start, end) of the spring-forward gap ending at ``instant``."""
    before = (instant - timedelta(seconds=1)).astimezone(zone).utcoffset()
    after = instant.astimezone(zone).utcoffset()
    if before is None or after is None or after <= before:
        return None
    gap_end = instant.astimezone(zone).replace(tzinfo=None)
    return gap_end - (after - before), gap_end


def _robfig_day_matches(expression: str, spec: CronSpec, naive: datetime) -> bool:
    """Return robfig/cron's day match for a local time.

    robfig/cron needs both day fields when either has an item '*' or '?' without a
    step above 1 (parser.go getRange clears its star bit for larger steps).
    """
    fields = MACROS.get(expression, expression).split()
    if naive.month not in spec.months:
        return False
    day_of_month = naive.day in spec.days_of_month
    day_of_week = (naive.weekday() + 1) % 7 in spec.days_of_week
    if _robfig_star(fields[2]) or _robfig_star(fields[4]):
        return day_of_month and day_of_week
    return day_of_month or day_of_week


def _robfig_star(field_text: str) -> bool:
    for item in field_text.split(","):
        base, _, step = item.partition("/")
        if base in ("*", "?") and (step == "" or int(step) <= 1):
            return True
    return False


# --- Acceptance probes: forms that one side may reject and the other accept.

ACCEPTANCE_PROBES = (
    "0 0 * * *",
    "0 0 1 jan *",
    "0 0 ? * MON",
    "0 0 * * 7",
    "0 0 * * 5-7",
    "0 0 * * 7/2",
    "H H * * *",
    "H/15 * * * *",
    "0 0 +5 * *",
    "*/5 * * * * *",
    "0 0 12 * * ? 2026",
    "TZ=Europe/Berlin 0 9 * * *",
    "CRON_TZ=UTC 0 9 * * *",
    "@reboot",
    "@Daily",
    "@daily ",
    "@every  5m",
    "@every 500ms",
    "@every 0s",
    "@every 1000h",
    "@every 1h 30m",
    "0 0 31 2 *",
    "0 0 30 2 *",
    "0 22-2 * * *",
    "0 0 L * *",
    "0 0 * * monday",
    "",
)


def acceptance_differences(binary: Path) -> list[tuple[str, str, str]]:
    """Return (expression, Punctual outcome, robfig outcome) where exactly one side rejects.

    robfig/cron parses each probe alone (no TZ= prefix added), and Punctual in UTC.
    """
    start = datetime(2026, 1, 1, tzinfo=UTC)
    robfig_results = run_robfig(
        binary, [Case(expression, "", start, 1) for expression in ACCEPTANCE_PROBES]
    )
    rows = []
    for expression, robfig in zip(ACCEPTANCE_PROBES, robfig_results):
        punctual = run_punctual(Case(expression, "UTC", start, 1))
        if (punctual.error is None) != (robfig.error is None):
            rows.append(
                (
                    expression,
                    "accepts" if punctual.error is None else f"rejects: {punctual.error}",
                    "accepts" if robfig.error is None else f"rejects: {robfig.error}",
                )
            )
    return rows


# --- Driver


def compare(cases_to_run: Sequence[Case], binary: Path, max_examples: int = 5) -> Tally:
    tally = Tally()
    robfig_results = run_robfig(binary, cases_to_run)
    for case, robfig in zip(cases_to_run, robfig_results):
        punctual = run_punctual(case)
        tally.cases += 1
        mismatch, classes = classify(case, punctual, robfig)
        if not mismatch:
            continue
        tally.mismatches += 1
        if classes:
            tally.explained += 1
            tally.classes.update(classes)
            continue
        tally.unexplained += 1
        if len(tally.examples) < max_examples:
            tally.examples.append(_describe(case, punctual, robfig))
    return tally


def _describe(case: Case, punctual: Result, robfig: Result) -> str:
    def show(result: Result) -> str:
        if result.error:
            return f"error: {result.error}"
        return " ".join(t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in result.times)

    return (
        f"expression {case.expression!r} zone {case.time_zone} start {case.start.isoformat()}\n"
        f"  punctual {show(punctual)}\n  robfig   {show(robfig)}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="number of cases to draw")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="next occurrences per case")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="Hypothesis seed")
    parser.add_argument("--binary", type=Path, default=None, help="robfig-conformance binary")
    parser.add_argument(
        "--report",
        action="store_true",
        help="also print the count per class and the acceptance differences",
    )
    arguments = parser.parse_args(argv)

    started = time.monotonic()
    binary = ensure_binary(arguments.binary)
    drawn = generate_cases(arguments.cases, arguments.seed, arguments.count)
    tally = compare(drawn, binary)
    if arguments.report:
        for name, number in sorted(tally.classes.items()):
            print(f"class {name} {number}")
        for expression, punctual, robfig in acceptance_differences(binary):
            print(f"acceptance {expression!r}: punctual {punctual} | robfig {robfig}")
        print(f"seconds {time.monotonic() - started:.1f}")
    for example in tally.examples:
        print(example)
    print(tally.summary())
    return 1 if tally.unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
