"""JSON reports of load-test runs, under ``loadtests/reports/`` by default (git-ignored)."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_REPORT_DIR = Path(__file__).resolve().parent / "reports"


def _git(repo: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=5,
                              check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def server_source() -> dict[str, Any]:
    """Which chatserver code ran: its location, and the git commit with whether the working tree
    of ``chatserver/`` differed from it."""
    spec = importlib.util.find_spec("chatserver")
    if spec is None or spec.origin is None:
        return {"path": None}
    package = Path(spec.origin).resolve().parent
    commit = _git(package.parent, "rev-parse", "HEAD")
    changes = _git(package.parent, "status", "--porcelain", "--", str(package))
    return {"path": str(package), "git_commit": commit, "uncommitted_changes": bool(changes) if commit else None}


def environment() -> dict[str, Any]:
    """What shapes the numbers: the machine, its load, the interpreters."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "loadavg": [round(x, 2) for x in load] if load else None,
    }


def write_report(directory: Path, scenario: str, report: dict[str, Any]) -> Path:
    """Write ``report`` as ``<scenario>-<UTC timestamp>.json`` in ``directory``; returns the path."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path = directory / f"{scenario}-{stamp}.json"
    n = 1
    while path.exists():
        n += 1
        path = directory / f"{scenario}-{stamp}-{n}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


__all__ = ["DEFAULT_REPORT_DIR", "environment", "server_source", "write_report"]
