"""Crash points for the crash-safety tests.

With PUNCTUAL_FAILPOINT=<name> in its environment, the operator exits at once
(exit code 137, as after SIGKILL) the first time it reaches that point. Tests
use it to stop the operator between two steps of firing an occurrence, which a
random kill hits only by chance. Unset, every call is a no-op.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger("punctual.failpoints")

AFTER_JOB_RUN_CREATED = "after-jobrun-created"
AFTER_JOB_CREATED = "after-job-created"


def reached(name: str) -> None:
    """Exit the process if the failpoint name is armed."""
    if os.environ.get("PUNCTUAL_FAILPOINT") == name:
        logger.warning("failpoint %s reached: exiting with code 137", name)
        logging.shutdown()
        os._exit(137)
