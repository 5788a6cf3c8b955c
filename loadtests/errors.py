"""Why a load test could not run or finish: one exception type with a message for the user."""

from __future__ import annotations


class LoadTestError(Exception):
    """A load test stopped: the message says why and is printed without a traceback."""


class UsageError(LoadTestError):
    """The command line asks for something that cannot be (exit status 2, before anything starts)."""


__all__ = ["LoadTestError", "UsageError"]
