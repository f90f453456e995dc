"""Command-line parsing and dispatch of ``kubectl punctual`` (console script ``kubectl-punctual``)."""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable

import urllib3

from punctual.plugin import actions, describe, logs, runs, scheduling
from punctual.plugin.actions import DEFAULT_BACKFILL_MAX, MAX_BACKFILL
from punctual.plugin.errors import EXIT_CODES_HELP, EXIT_ERROR, PluginError, UsageError
from punctual.plugin.kubeapi import Connection, Kube
from punctual.plugin.output import FORMATS
from punctual.plugin.scheduling import MAX_NEXT_COUNT
from punctual.plugin.timeparse import TIME_FORMATS_HELP

PROG = "kubectl punctual"
TIME_HELP = textwrap.fill(f"TIME: {TIME_FORMATS_HELP}.", width=96, break_on_hyphens=False)
EXIT_INTERRUPTED = 130

DESCRIPTION = """\
Show and start the runs of Punctual ScheduledJobs (punctual.dev/v1alpha1).

examples:
  kubectl punctual runs nightly-report
  kubectl punctual trigger nightly-report
  kubectl punctual logs nightly-report-1767225600 -f
  kubectl punctual next nightly-report --count 5
  kubectl punctual backfill nightly-report --from 2026-01-01 --to 2026-01-07 --dry-run
  kubectl punctual describe nightly-report
"""

Command = Callable[[Kube, argparse.Namespace], int]


def _add_global_flags(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Add the kubectl-style global flags; on subcommands (suppress) they only override when given."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global flags")
    group.add_argument("-n", "--namespace", default=default(None),
                       help="namespace of the objects (default: the kubeconfig context's namespace, else 'default')")
    group.add_argument("-A", "--all-namespaces", action="store_true", default=default(False),
                       help="list across all namespaces (runs only)")
    group.add_argument("--context", default=default(None), help="kubeconfig context to use (default: the current context)")
    group.add_argument("--kubeconfig", default=default(None),
                       help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster)")
    group.add_argument("-o", "--output", choices=FORMATS, default=default("table"),
                       help="output format: table (default), wide (more columns), json or yaml")


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EXIT_CODES_HELP, formatter_class=formatter)
    _add_global_flags(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Command, summary: str, epilog: str = "") -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=summary, description=summary, epilog=(epilog + "\n\n" + EXIT_CODES_HELP).lstrip("\n"),
            formatter_class=formatter,
        )
        _add_global_flags(sub, suppress=True)
        sub.set_defaults(handler=handler)
        return sub

    sub = add("runs", runs.command, "List runs, newest first: phase, scheduled time, lag, duration, SLA breaches, reason.",
              "Without SCHEDULED_JOB, lists the runs of every ScheduledJob in the namespace (-A: in every namespace).\n"
              "SLA: the breaches the operator recorded: TimedOut (sla.timeoutSeconds) and the run's true\n"
              "conditions about SLAs (StartSLABreached, SLABreached); ok when the ScheduledJob sets an SLA\n"
              "and none was breached; - when it sets none.")
    sub.add_argument("scheduled_job", nargs="?", metavar="SCHEDULED_JOB", help="the ScheduledJob whose runs to list")

    sub = add("trigger", actions.trigger, "Create a Manual JobRun now and print its name.",
              "The operator starts it under the ScheduledJob's concurrency policy (Forbid with an active\n"
              "run records it Skipped). The name is <scheduled-job>-manual-<unix seconds>.")
    sub.add_argument("scheduled_job", metavar="SCHEDULED_JOB")

    sub = add("logs", logs.command, "Print a run's log: live from its pod, else the captured tail, else the archive.",
              "With -f, waits for the pod to start and streams the log until the container ends.")
    sub.add_argument("run", metavar="RUN", help="JobRun name (see `kubectl punctual runs`)")
    sub.add_argument("-f", "--follow", action="store_true", help="stream the log while the pod runs")
    sub.add_argument("--attempt", type=int, metavar="N", help="attempt number, from 1 (default: the latest)")
    sub.add_argument("-c", "--container", help="container name (default: the kubectl default-container annotation, "
                     "the container the run's exit came from, else the first)")
    sub.add_argument("--archive", action="store_true",
                     help="read the archived log (status.logs.archiveRef) even when a captured tail exists")

    sub = add("next", scheduling.command, "Print the next scheduled times, in UTC and in the ScheduledJob's time zone.",
              f"{TIME_HELP}\nTimes are computed by the operator's own schedule code (punctual.schedule).")
    sub.add_argument("scheduled_job", metavar="SCHEDULED_JOB")
    sub.add_argument("--count", type=int, default=10, help=f"how many times to print, 1 to {MAX_NEXT_COUNT} (default 10)")
    sub.add_argument("--from", dest="from_time", metavar="TIME", help="print the times after TIME (default: now)")

    sub = add("suspend", actions.suspend, "Suspend a ScheduledJob: set spec.suspend (and spec.suspendReason).",
              "Occurrences while suspended are recorded by the operator as one Skipped range.")
    sub.add_argument("scheduled_job", metavar="SCHEDULED_JOB")
    sub.add_argument("--reason", help="why, stored in spec.suspendReason and shown in the Suspended condition")

    sub = add("resume", actions.resume, "Resume a ScheduledJob: clear spec.suspend and spec.suspendReason.")
    sub.add_argument("scheduled_job", metavar="SCHEDULED_JOB")

    sub = add("backfill", actions.backfill, "Create a Backfill JobRun for each past occurrence from --from to --to (inclusive).",
              f"{TIME_HELP}\n"
              "Run names are <scheduled-job>-<unix seconds>, the names of scheduled runs, so re-running a\n"
              "backfill, or backfilling an occurrence whose run still exists, creates nothing new. Runs\n"
              "deleted by the history limits (successfulRunsHistoryLimit and the others) are created again.\n"
              "A range with more occurrences than --max is rejected (exit code 2).")
    sub.add_argument("scheduled_job", metavar="SCHEDULED_JOB")
    sub.add_argument("--from", dest="from_time", metavar="TIME", required=True, help="first time of the range")
    sub.add_argument("--to", dest="to_time", metavar="TIME", required=True, help="last time of the range (not in the future)")
    sub.add_argument("--max", type=int, default=DEFAULT_BACKFILL_MAX,
                     help=f"the maximum number of runs, 1 to {MAX_BACKFILL} (default {DEFAULT_BACKFILL_MAX})")
    sub.add_argument("--dry-run", action="store_true", help="list the runs and whether they exist; create nothing")

    sub = add("describe", describe.command, "Show status, conditions, recent runs and Events of a ScheduledJob or JobRun.",
              "describe NAME looks for a ScheduledJob, then a JobRun; describe sj NAME and describe run NAME pick the kind.")
    sub.add_argument("kind_or_name", metavar="KIND_OR_NAME", help="the name, or the kind (sj, run) followed by the name")
    sub.add_argument("name", nargs="?", metavar="NAME", help="the name, when a kind is given")
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse the command line; global flags are accepted before and after the command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.all_namespaces and args.command != "runs":
        parser.error(f"-A/--all-namespaces applies to runs only; pass -n NAMESPACE to {args.command}")
    if args.all_namespaces and args.scheduled_job:
        parser.error("runs -A lists every ScheduledJob's runs; drop SCHEDULED_JOB, or drop -A and pass -n NAMESPACE")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        kube = Kube(Connection(kubeconfig=args.kubeconfig, context=args.context), args.namespace)
        try:
            return args.handler(kube, args)
        finally:
            kube.close()
    except PluginError as error:
        prefix = "usage error" if isinstance(error, UsageError) else "error"
        sys.stderr.write(f"{PROG}: {prefix}: {error.message}\n")
        return error.exit_code
    except urllib3.exceptions.HTTPError as error:
        sys.stderr.write(f"{PROG}: error: the connection to the API server failed: {error}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout (head, grep -m) went away; that is not an error of ours.
        return 0


if __name__ == "__main__":
    sys.exit(main())
