"""The operator's HTTP endpoint for archived run logs (aiohttp).

``GET /logs/<namespace>/<run>`` returns the archived log of a JobRun's latest
attempt as text/plain; ``?attempt=N`` selects attempt N (1-based). The
JobRun's ``status.logs.archiveRef`` points here when the operator runs with
``--log-archive-url``.

NOTE: the endpoint has no authentication. Anyone who reaches the port can read
the logs of every namespace the operator serves, so keep it inside the
cluster and limit who reaches it (a NetworkPolicy, or only the API server's
service proxy, which checks RBAC on services/proxy).
"""

from __future__ import annotations

import logging

from aiohttp import web

from punctual.archive import ArchiveNotFoundError, LogArchive, check_attempt, check_name

logger = logging.getLogger("punctual.logs")


def add_routes(app: web.Application, archive: LogArchive) -> None:
    """Serve archived logs from archive under /logs/ on app."""

    async def get_log(request: web.Request) -> web.StreamResponse:
        namespace = request.match_info["namespace"]
        run = request.match_info["run"]
        try:
            check_name("namespace", namespace)
            check_name("JobRun name", run)
            requested = request.query.get("attempt")
            if requested is not None:
                if not requested.isdigit():
                    raise ValueError(f"invalid attempt {requested!r}: expected a number from 1")
                attempt = check_attempt(int(requested))
            else:
                stored = await archive.attempts(namespace, run)
                if not stored:
                    raise web.HTTPNotFound(text=f"no archived log of JobRun {run} in namespace {namespace}\n")
                attempt = stored[-1]
        except ValueError as error:
            raise web.HTTPBadRequest(text=f"{error}\n") from None
        try:
            chunks = await archive.open(archive.ref(namespace, run, attempt))
        except ArchiveNotFoundError:
            raise web.HTTPNotFound(
                text=f"no archived log of attempt {attempt} of JobRun {run} in namespace {namespace}\n"
            ) from None
        response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
        await response.prepare(request)
        async for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
        return response

    app.router.add_get("/logs/{namespace}/{run}", get_log)


class HttpServer:
    """An aiohttp server on one port; other parts of the operator may add routes to app before start."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.app = web.Application()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as error:
            await self._runner.cleanup()
            self._runner = None
            raise OSError(
                f"cannot listen on {self.host}:{self.port} for the log endpoint: {error}; "
                "choose another --log-server-port"
            ) from error
        logger.info("serving archived logs at http://%s:%d/logs/<namespace>/<run>", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
