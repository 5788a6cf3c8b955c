"""Why a load test could not run or finish: one exception type with a message for the user."""

from __future__ import annotations


class LoadTestError(Exception):
    """A load test stopped: the message says why and is printed without a traceback."""


__all__ = ["LoadTestError"]
