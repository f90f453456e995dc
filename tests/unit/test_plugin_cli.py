"""kubectl punctual: argument parsing, exit codes and help text."""

from __future__ import annotations

import pytest

from punctual.plugin import actions, cli, describe, logs, runs, scheduling
from punctual.plugin.errors import EXIT_CODES_HELP, EXIT_USAGE


def test_global_flags_before_command():
    args = cli.parse_args(["-n", "team-a", "--context", "prod", "-o", "wide", "runs", "nightly"])
    assert args.namespace == "team-a"
    assert args.context == "prod"
    assert args.output == "wide"
    assert args.scheduled_job == "nightly"
    assert args.handler is runs.command


def test_global_flags_after_command():
    args = cli.parse_args(["runs", "nightly", "-n", "team-a", "--kubeconfig", "/tmp/kc", "-o", "json"])
    assert args.namespace == "team-a"
    assert args.kubeconfig == "/tmp/kc"
    assert args.output == "json"


def test_flag_after_command_overrides_flag_before():
    args = cli.parse_args(["-n", "first", "runs", "-n", "second"])
    assert args.namespace == "second"


def test_defaults_without_flags():
    args = cli.parse_args(["runs"])
    assert args.namespace is None
    assert args.all_namespaces is False
    assert args.context is None
    assert args.kubeconfig is None
    assert args.output == "table"
    assert args.scheduled_job is None


@pytest.mark.parametrize(
    ("argv", "handler"),
    [
        (["runs"], runs.command),
        (["trigger", "sj"], actions.trigger),
        (["logs", "sj-1"], logs.command),
        (["next", "sj"], scheduling.command),
        (["suspend", "sj"], actions.suspend),
        (["resume", "sj"], actions.resume),
        (["backfill", "sj", "--from", "2026-01-01", "--to", "2026-01-02"], actions.backfill),
        (["describe", "sj"], describe.command),
    ],
)
def test_each_command_dispatches(argv, handler):
    assert cli.parse_args(argv).handler is handler


def test_logs_options():
    args = cli.parse_args(["logs", "nightly-1767225600", "-f", "--attempt", "2", "-c", "main"])
    assert args.run == "nightly-1767225600"
    assert args.follow is True
    assert args.attempt == 2
    assert args.container == "main"
    assert args.archive is False


def test_next_defaults():
    args = cli.parse_args(["next", "nightly"])
    assert args.count == 10
    assert args.from_time is None


def test_backfill_options():
    args = cli.parse_args(["backfill", "nightly", "--from", "now-1d", "--to", "now", "--max", "7", "--dry-run"])
    assert args.from_time == "now-1d"
    assert args.to_time == "now"
    assert args.max == 7
    assert args.dry_run is True
    assert cli.parse_args(["backfill", "nightly", "--from", "a", "--to", "b"]).max == actions.DEFAULT_BACKFILL_MAX


def test_suspend_reason():
    assert cli.parse_args(["suspend", "nightly", "--reason", "db migration"]).reason == "db migration"
    assert cli.parse_args(["suspend", "nightly"]).reason is None


def test_describe_kind_and_name():
    args = cli.parse_args(["describe", "run", "nightly-1"])
    assert (args.kind_or_name, args.name) == ("run", "nightly-1")
    args = cli.parse_args(["describe", "nightly"])
    assert (args.kind_or_name, args.name) == ("nightly", None)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["unknown"],
        ["trigger"],
        ["backfill", "sj", "--from", "2026-01-01"],
        ["runs", "-o", "xml"],
        ["next", "sj", "--count", "ten"],
        ["trigger", "sj", "-A"],
        ["runs", "sj", "-A"],
        ["describe", "a", "b", "c"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as raised:
        cli.parse_args(argv)
    assert raised.value.code == EXIT_USAGE
    assert "usage: kubectl punctual" in capsys.readouterr().err


def test_all_namespaces_only_for_runs(capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(["next", "sj", "-A"])
    assert "-A/--all-namespaces applies to runs only" in capsys.readouterr().err
    assert cli.parse_args(["runs", "-A"]).all_namespaces is True


@pytest.mark.parametrize("command", ["runs", "trigger", "logs", "next", "suspend", "resume", "backfill", "describe"])
def test_help_lists_exit_codes(command, capsys):
    with pytest.raises(SystemExit) as raised:
        cli.parse_args([command, "-h"])
    assert raised.value.code == 0
    text = capsys.readouterr().out
    assert "exit codes:" in text
    assert "3  not found" in text
    assert "--kubeconfig" in text


def test_top_level_help(capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(["--help"])
    text = capsys.readouterr().out
    for command in ("runs", "trigger", "logs", "next", "suspend", "resume", "backfill", "describe"):
        assert command in text
    assert EXIT_CODES_HELP.splitlines()[0] in text


def test_describe_parse_target():
    assert describe.parse_target("nightly", None) == (None, "nightly")
    assert describe.parse_target("sj", "nightly") == ("scheduledjobs", "nightly")
    assert describe.parse_target("JobRun", "nightly-1") == ("jobruns", "nightly-1")
    assert describe.parse_target("run", "nightly-1") == ("jobruns", "nightly-1")


def test_describe_parse_target_unknown_kind():
    from punctual.plugin.errors import UsageError

    with pytest.raises(UsageError, match="unknown kind 'pod'"):
        describe.parse_target("pod", "x")


def test_main_reports_kubeconfig_error(tmp_path, capsys):
    missing = tmp_path / "nope"
    code = cli.main(["--kubeconfig", str(missing), "runs"])
    assert code == 1
    err = capsys.readouterr().err
    assert "cannot load the kubeconfig" in err
    assert str(missing) in err
