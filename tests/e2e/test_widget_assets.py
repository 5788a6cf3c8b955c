"""The widget's build: the loader's size budget (the sizes are printed at the end of the run) and
the front-end unit tests (node's built-in test runner)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from .conftest import SIZES
from .widget import ROOT, gzipped_sizes

LOADER_BUDGET = 10 * 1024


def test_the_loader_is_small_and_the_sizes_are_reported(request: pytest.FixtureRequest, widget_built: None) -> None:
    sizes = gzipped_sizes()
    request.config.stash[SIZES] = sizes
    assert sizes["/widget.js"] <= LOADER_BUDGET, sizes
    chunks = [path for path in sizes if path != "/widget.js"]
    assert any(re.fullmatch(r"/widget/ui-\w+\.js", p) for p in chunks), chunks
    assert any(re.fullmatch(r"/widget/socket\.io-\w+\.js", p) for p in chunks), chunks


def test_front_end_unit_tests_pass() -> None:
    node = shutil.which("node")
    assert node is not None, "node is needed for the widget's unit tests"
    result = subprocess.run([node, "--test", "client/test/"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"^# pass [1-9]\d*$", result.stdout, re.M), result.stdout[-2000:]
    assert re.search(r"^# fail 0$", result.stdout, re.M), result.stdout[-2000:]
