"""Background tasks of the operator and the retry loop for API calls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException

from punctual.kube import is_status

logger = logging.getLogger("punctual")

RETRY_BACKOFF_SECONDS = (0.5, 1, 2, 5, 10, 30)

# Errors worth retrying: the API server refused or was unreachable for a moment.
TRANSIENT_ERRORS = (ApiException, aiohttp.ClientError, asyncio.TimeoutError, OSError)


def describe_error(error: BaseException) -> str:
    """Describe an error for a log line; an ApiException by its HTTP status and reason.

    The response body is left out: it may echo object data.
    """
    if isinstance(error, ApiException):
        return f"API error {error.status} {error.reason}"
    return repr(error)


class Background:
    """The operator's own tasks: kept referenced, logged when they fail, cancelled at shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Awaitable[Any], what: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self._tasks.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                error = finished.exception()
                logger.error("%s failed: %s", what, describe_error(error), exc_info=error)

        task.add_done_callback(done)
        return task

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def retrying(
    what: str, action: Callable[[], Awaitable[None]], still_wanted: Callable[[], bool] | None = None
) -> None:
    """Run action until it succeeds, backing off on transient API errors.

    A 400, 403 or 422 is not transient and is raised. The loop ends early,
    logging it, when still_wanted returns False (the object it works for is gone).
    """
    attempt = 0
    while True:
        try:
            await action()
            return
        except TRANSIENT_ERRORS as error:
            if is_status(error, 400, 403, 422):
                raise
            if still_wanted is not None and not still_wanted():
                logger.info("%s abandoned: the ScheduledJob is gone", what)
                return
            delay = RETRY_BACKOFF_SECONDS[min(attempt, len(RETRY_BACKOFF_SECONDS) - 1)]
            logger.warning("%s failed, retrying in %s s: %s", what, delay, describe_error(error))
            attempt += 1
            await asyncio.sleep(delay)
