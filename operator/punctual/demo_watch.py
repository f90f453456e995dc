"""Print JobRuns as they change, one line per change, like ``kubectl get jobruns -w``.

``python -m punctual.demo_watch [--namespace NS]`` watches the cluster of
$KUBECONFIG until Ctrl-C, or for DEMO_SECONDS seconds when that is set
(``--seconds`` overrides it). A line is printed only when a JobRun's phase,
reason or duration changes, or when it is deleted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config, watch

from punctual.models import GROUP, VERSION

COLUMNS = ("TIME", "NAMESPACE", "JOBRUN", "SCHEDULED JOB", "SCHEDULED TIME", "TRIGGER", "PHASE", "DURATION", "REASON")
WIDTHS = (8, 16, 30, 16, 20, 8, 9, 8, 0)


def format_row(values: tuple[str, ...]) -> str:
    return "  ".join(value.ljust(width) if width else value for value, width in zip(values, WIDTHS, strict=True))


def describe(event_type: str, run: dict[str, Any]) -> tuple[str, ...]:
    """Return the printed columns of one JobRun event."""
    metadata = run["metadata"]
    spec = run.get("spec") or {}
    status = run.get("status") or {}
    duration = status.get("durationSeconds")
    phase = "Deleted" if event_type == "DELETED" else status.get("phase") or "-"
    reason = status.get("reason") or ""
    skipped = status.get("skipped")
    if skipped and skipped.get("count", 1) > 1:
        reason += f" ({skipped['count']} occurrences)"
    return (
        datetime.now(UTC).strftime("%H:%M:%S"),
        metadata["namespace"],
        metadata["name"],
        spec.get("scheduledJobName", "-"),
        spec.get("scheduledTime", "-"),
        spec.get("trigger", "-"),
        phase,
        f"{duration}s" if duration is not None else "-",
        reason,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print JobRuns as they change.")
    parser.add_argument("--namespace", "-n", help="watch only this namespace (default: all namespaces)")
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("DEMO_SECONDS") or 0),
        help="stop after this many seconds (default: env DEMO_SECONDS, else run until Ctrl-C)",
    )
    args = parser.parse_args(argv)
    config.load_kube_config()
    custom = client.CustomObjectsApi()
    deadline = time.monotonic() + args.seconds if args.seconds else None
    last_printed: dict[tuple[str, str], tuple[str, ...]] = {}
    print(format_row(COLUMNS), flush=True)
    try:
        while deadline is None or time.monotonic() < deadline:
            timeout = int(deadline - time.monotonic()) + 1 if deadline else 300
            stream = watch.Watch()
            if args.namespace:
                events = stream.stream(
                    custom.list_namespaced_custom_object, GROUP, VERSION, args.namespace, "jobruns",
                    timeout_seconds=timeout,
                )
            else:
                events = stream.stream(
                    custom.list_cluster_custom_object, GROUP, VERSION, "jobruns", timeout_seconds=timeout
                )
            for event in events:
                run = event["object"]
                key = (run["metadata"]["namespace"], run["metadata"]["name"])
                row = describe(event["type"], run)
                if last_printed.get(key, ())[2:] != row[2:]:
                    print(format_row(row), flush=True)
                    last_printed[key] = row
                if deadline is not None and time.monotonic() >= deadline:
                    stream.stop()
                    break
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
