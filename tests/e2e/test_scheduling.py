"""Runs start on time, overlap, and survive operator crashes with exactly one Job per occurrence."""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest

from support import (
    Api,
    Operator,
    covered,
    eventually,
    job_scheduled_unix,
    job_template,
    occurrences,
    parse_time,
    phase,
    reason,
    running_jobs,
    scheduled_unix,
)

pytestmark = pytest.mark.cluster


def test_overlapping_runs_start_on_time(api: Api, operator: Operator):
    every = 5
    sj = api.create_scheduled_job(
        "overlap",
        {"schedule": f"@every {every}s", "successfulRunsHistoryLimit": 50, "jobTemplate": job_template(duration="12s")},
    )
    created = parse_time(sj["metadata"]["creationTimestamp"])
    max_running = 0
    end = time.time() + 40
    while time.time() < end:
        max_running = max(max_running, len(running_jobs(api.jobs("overlap"))))
        time.sleep(0.5)
    # Occurrences due at least a second before the end must have fired by then.
    expected = occurrences(every, created, end - 1)
    assert len(expected) >= 7

    runs = {scheduled_unix(run): run for run in api.job_runs("overlap")}
    jobs = api.jobs("overlap")
    job_times = Counter(job_scheduled_unix(job) for job in jobs)
    for t in expected:
        assert t in runs, f"no JobRun for the occurrence at {t}"
        assert job_times[t] == 1, f"{job_times[t]} Jobs for the occurrence at {t}"
    assert set(runs) <= set(occurrences(every, created, time.time())), "a JobRun for a time that is not an occurrence"
    for job in jobs:
        t = job_scheduled_unix(job)
        created_at = job.metadata.creation_timestamp.timestamp()
        # creationTimestamp is truncated to the second, so a Job created within 1 s shows t or t+1.
        assert t <= created_at <= t + 1, f"Job {job.metadata.name} created at {created_at}, scheduled {t}"
        lag = runs[t]["status"]["scheduleLagSeconds"]
        assert 0 <= lag < 1.0, f"JobRun of {t} has scheduleLagSeconds {lag}"
    assert max_running >= 2, "runs of 12 s every 5 s never overlapped"

    def all_succeeded():
        current = {scheduled_unix(run): run for run in api.job_runs("overlap")}
        return all(phase(current[t]) == "Succeeded" for t in expected) and current

    final = eventually(all_succeeded, timeout=30, what="every run Succeeded")
    for t in expected:
        status = final[t]["status"]
        assert status["durationSeconds"] >= 11
        assert status["startTime"] and status["completionTime"]
    assert api.events("RunSucceeded"), "no RunSucceeded Event"
    assert api.events("RunCreated"), "no RunCreated Event"


def test_repeated_kill_creates_no_duplicate_jobs(api: Api, operator: Operator):
    every = 2
    sj = api.create_scheduled_job(
        "crashy",
        {
            "schedule": f"@every {every}s",
            "catchUp": {"policy": "All", "maxRuns": 100},
            "successfulRunsHistoryLimit": 100,
            "failedRunsHistoryLimit": 100,
            "jobTemplate": job_template(duration="1s"),
        },
    )
    created = parse_time(sj["metadata"]["creationTimestamp"])
    chance = random.Random(20260604)
    for _ in range(6):
        # Kill within 80 ms after an occurrence, while the operator is most likely mid-firing.
        next_boundary = (int(time.time()) // every + 1 + chance.randrange(2)) * every
        time.sleep(next_boundary - time.time() + chance.uniform(0.0, 0.08))
        operator.restart(kill=True)
    time.sleep(4)
    end = time.time() - 1
    expected = occurrences(every, created, end)
    assert len(expected) >= 10

    jobs = api.jobs("crashy")
    per_time = Counter(job_scheduled_unix(job) for job in jobs)
    duplicates = {t: n for t, n in per_time.items() if n > 1}
    assert not duplicates, f"occurrences with more than one Job: {duplicates}"
    runs = api.job_runs("crashy")
    run_times = Counter(t for run in runs for t in covered(run, every))
    for t in expected:
        assert run_times[t] == 1, f"occurrence {t} has {run_times[t]} JobRun records"
        # catchUp All runs every occurrence missed while the operator was down.
        assert per_time[t] == 1, f"occurrence {t} has no Job"


def test_catch_up_latest_after_downtime(api: Api, operator: Operator):
    every = 2
    api.create_scheduled_job(
        "catchup",
        {"schedule": f"@every {every}s", "skippedRunsHistoryLimit": 10, "jobTemplate": job_template(duration="1s")},
    )
    eventually(lambda: api.job_runs("catchup"), timeout=10, what="a first run")
    operator.stop()
    stopped = time.time()
    time.sleep(9)
    operator.start()
    restarted = time.time()

    def caught_up():
        records = [run for run in api.job_runs("catchup") if run["spec"]["trigger"] == "CatchUp" and phase(run)]
        # The Skipped record is written before the catch-up run; wait for both.
        return records if any(phase(run) != "Skipped" for run in records) else None

    records = eventually(caught_up, timeout=10, what="catch-up records")
    catch_up_runs = [run for run in records if phase(run) != "Skipped"]
    catch_up_skips = [run for run in records if phase(run) == "Skipped"]
    assert len(catch_up_runs) == 1, [run["metadata"]["name"] for run in catch_up_runs]
    assert len(catch_up_skips) == 1, "missed occurrences must be one Skipped range record"
    skipped = catch_up_skips[0]["status"]["skipped"]
    assert reason(catch_up_skips[0]) == "CatchUpPolicy"
    assert skipped["count"] >= 3
    latest = scheduled_unix(catch_up_runs[0])
    assert stopped < latest <= restarted
    assert parse_time(skipped["last"]).timestamp() < latest


@pytest.mark.parametrize("failpoint", ["after-jobrun-created", "after-job-created"])
def test_crash_between_steps_yields_one_job(api: Api, operator: Operator, failpoint: str):
    every = 3
    operator.stop()
    api.create_scheduled_job(
        "steps",
        {
            "schedule": f"@every {every}s",
            "catchUp": {"policy": "All", "maxRuns": 10},
            "successfulRunsHistoryLimit": 50,
            "jobTemplate": job_template(duration="1s"),
        },
    )
    operator.start(failpoint=failpoint)
    eventually(lambda: not operator.alive, timeout=20, what=f"the operator to exit at {failpoint}")
    (crashed,) = api.job_runs("steps")
    assert not (crashed.get("status") or {}).get("jobName"), "step 4 ran before the failpoint"
    jobs_before = api.jobs("steps")
    assert len(jobs_before) == (1 if failpoint == "after-job-created" else 0)

    operator.start()
    name = crashed["metadata"]["name"]
    finished = eventually(
        lambda: (run := api.job_run(name)) and phase(run) == "Succeeded" and run, timeout=20,
        what="the interrupted run to finish",
    )
    assert finished["status"]["jobName"] == name
    if jobs_before:
        assert api.jobs("steps")[0].metadata.uid == jobs_before[0].metadata.uid or any(
            job.metadata.uid == jobs_before[0].metadata.uid for job in api.jobs("steps")
        ), "the Job created before the crash was replaced"
    time.sleep(every + 1)
    per_time = Counter(job_scheduled_unix(job) for job in api.jobs("steps"))
    assert per_time[scheduled_unix(crashed)] == 1
    assert all(count == 1 for count in per_time.values()), per_time
