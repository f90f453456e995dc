"""The operator's log options and the assembly of log capture, archive and HTTP endpoint.

``__main__`` adds the ``--log-*`` options with add_arguments and stores the
parsed values with configure; the kopf startup handler builds a LogService
from them. Every option also reads an environment variable.
"""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from punctual import logtail
from punctual.archive import DirectoryArchive
from punctual.kube import Kube
from punctual.logcapture import CaptureSettings, LogCapture, RunLookup, StatusWriter
from punctual.logserver import HttpServer, add_routes

logger = logging.getLogger("punctual.logs")

DEFAULT_SERVER_PORT = 8081


@dataclass(frozen=True)
class LogOptions:
    capture: CaptureSettings = field(default_factory=CaptureSettings)
    archive_dir: Path | None = None
    server_host: str = "0.0.0.0"  # noqa: S104 (the API server's service proxy reaches the pod IP)
    server_port: int = DEFAULT_SERVER_PORT


_options = LogOptions()


def configure(options: LogOptions) -> None:
    """Set the options the next LogService uses."""
    global _options
    _options = options


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("log capture and archive")
    group.add_argument(
        "--log-tail-bytes", type=int, default=_env_int("PUNCTUAL_LOG_TAIL_BYTES", logtail.DEFAULT_TAIL_BYTES),
        help="bytes of log kept in each JobRun's status.logs.tail, all containers together "
        f"(env PUNCTUAL_LOG_TAIL_BYTES; default {logtail.DEFAULT_TAIL_BYTES}, at most {logtail.MAX_TAIL_BYTES})",
    )
    group.add_argument(
        "--log-snapshot-seconds", type=float,
        default=float(os.environ.get("PUNCTUAL_LOG_SNAPSHOT_SECONDS") or 60),
        help="read the tail of every running pod this often, so a pod deleted while running leaves its log "
        "so far; 0 turns snapshots off (env PUNCTUAL_LOG_SNAPSHOT_SECONDS; default 60)",
    )
    group.add_argument(
        "--log-capture-workers", type=int, default=_env_int("PUNCTUAL_LOG_CAPTURE_WORKERS", 4),
        help="maximum number of pod logs read at the same time (env PUNCTUAL_LOG_CAPTURE_WORKERS; default 4)",
    )
    group.add_argument(
        "--log-archive-dir", type=Path, default=os.environ.get("PUNCTUAL_LOG_ARCHIVE_DIR") or None,
        help="archive every run's full log under this folder (a PersistentVolume in a cluster) and serve it "
        "over HTTP (env PUNCTUAL_LOG_ARCHIVE_DIR; default: no archive)",
    )
    group.add_argument(
        "--log-archive-max-bytes", type=int, default=_env_int("PUNCTUAL_LOG_ARCHIVE_MAX_BYTES", 64 * 1024 * 1024),
        help="bytes archived per container and attempt; a longer log keeps its beginning in the archive "
        "(env PUNCTUAL_LOG_ARCHIVE_MAX_BYTES; default 67108864, 64 MiB)",
    )
    group.add_argument(
        "--log-archive-url", default=os.environ.get("PUNCTUAL_LOG_ARCHIVE_URL") or None,
        help="base URL at which clients reach the log endpoint, e.g. http://punctual.punctual-system.svc:8081; "
        "archiveRef is then <url>/logs/<namespace>/<run>?attempt=<n>, else a file path "
        "(env PUNCTUAL_LOG_ARCHIVE_URL)",
    )
    group.add_argument(
        "--log-server-host", default=os.environ.get("PUNCTUAL_LOG_SERVER_HOST") or LogOptions.server_host,
        help="address the log endpoint listens on, with an archive only (env PUNCTUAL_LOG_SERVER_HOST; "
        "default 0.0.0.0)",
    )
    group.add_argument(
        "--log-server-port", type=int, default=_env_int("PUNCTUAL_LOG_SERVER_PORT", DEFAULT_SERVER_PORT),
        help=f"TCP port of the log endpoint (env PUNCTUAL_LOG_SERVER_PORT; default {DEFAULT_SERVER_PORT})",
    )


def options_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> LogOptions:
    """Return the log options of parsed arguments; report an invalid value through parser.error."""
    try:
        capture = CaptureSettings(
            tail_bytes=args.log_tail_bytes,
            snapshot_seconds=args.log_snapshot_seconds,
            workers=args.log_capture_workers,
            archive_max_bytes=args.log_archive_max_bytes,
            archive_url=args.log_archive_url,
        )
    except ValueError as error:
        parser.error(str(error))
    if not 0 < args.log_server_port < 65536:
        parser.error(f"--log-server-port {args.log_server_port} is not a TCP port: choose 1 to 65535")
    return LogOptions(
        capture=capture,
        archive_dir=Path(args.log_archive_dir) if args.log_archive_dir else None,
        server_host=args.log_server_host,
        server_port=args.log_server_port,
    )


class LogService:
    """Log capture, with the archive and its HTTP endpoint when an archive folder is configured."""

    def __init__(self, kube: Kube, write_status: StatusWriter, lookup_run: RunLookup,
                 options: LogOptions | None = None) -> None:
        self.options = options or _options
        self.archive = DirectoryArchive(self.options.archive_dir) if self.options.archive_dir else None
        self.capture = LogCapture(kube, self.options.capture, write_status, lookup_run, self.archive)
        self.server: HttpServer | None = None

    async def start(self) -> None:
        """Start the capture workers and, with an archive, the HTTP endpoint; raise when either cannot start."""
        if self.archive is not None:
            await self.archive.start()
            server = HttpServer(self.options.server_host, self.options.server_port)
            add_routes(server.app, self.archive)
            await server.start()
            self.server = server
            logger.info("archiving full run logs under %s", self.archive.root)
        self.capture.start()

    async def stop(self) -> None:
        await self.capture.stop()
        if self.server is not None:
            await self.server.stop()
