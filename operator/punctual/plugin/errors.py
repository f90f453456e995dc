"""Plugin errors and their exit codes, and the translation of API errors into them."""

from __future__ import annotations

import json
from typing import Any

from kubernetes.client.exceptions import ApiException

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_FORBIDDEN = 4

EXIT_CODES_HELP = """\
exit codes:
  0  success
  1  API or other error (API server unreachable, request rejected, conflict)
  2  usage error (unknown flag, invalid time, backfill range over --max)
  3  not found (ScheduledJob, JobRun, attempt, or any log of a run)
  4  forbidden or unauthorized (RBAC or the credentials do not allow the request)
"""


class PluginError(Exception):
    """An error reported as one message on stderr and a distinct exit code."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(PluginError):
    exit_code = EXIT_USAGE


class NotFoundError(PluginError):
    exit_code = EXIT_NOT_FOUND


class ForbiddenError(PluginError):
    exit_code = EXIT_FORBIDDEN


def api_message(error: ApiException) -> str:
    """Return the message of a metav1.Status error body, or the HTTP reason when there is none."""
    status = _status_body(error)
    return str(status.get("message") or error.reason or f"HTTP {error.status}")


def _status_body(error: ApiException) -> dict[str, Any]:
    try:
        body = json.loads(error.body)
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def is_missing_object(error: ApiException) -> bool:
    """Tell a 404 for a missing object (the Status names it) from one for an unknown resource type."""
    return error.status == 404 and bool((_status_body(error).get("details") or {}).get("name"))


def translate(error: ApiException, action: str) -> PluginError:
    """Turn an API error into a PluginError whose message names what failed and what to do.

    ``action`` describes the request, as in "get ScheduledJob nightly in namespace team-a".
    """
    message = api_message(error)
    if error.status == 404:
        if not is_missing_object(error):
            return NotFoundError(
                f"cannot {action}: the API server does not serve punctual.dev resources ({message}); "
                "install the CRDs with `kubectl apply -k crds/`"
            )
        return NotFoundError(f"cannot {action}: {message}")
    if error.status in (401, 403):
        return ForbiddenError(
            f"cannot {action}: {message}; ask a cluster admin for RBAC access, "
            "or check the user with `kubectl auth whoami`"
        )
    if error.status == 0 or error.status is None:
        return PluginError(f"cannot {action}: {error.reason}")
    return PluginError(f"cannot {action}: the API server returned {error.status}: {message}")
