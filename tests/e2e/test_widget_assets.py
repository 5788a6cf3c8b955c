"""The widget's build: the loader's size budget (the sizes are printed at the end of the run) and
the front ends' unit tests, the widget's and the agent console's (node's built-in test runner)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable

from .widget import ROOT, WIDGET_SIZES, gzipped_sizes

LOADER_BUDGET = 10 * 1024


def test_the_loader_is_small_and_the_sizes_are_reported(record_property: Callable[[str, object], None],
                                                        widget_built: None) -> None:
    sizes = gzipped_sizes()
    record_property(WIDGET_SIZES, sizes)
    assert sizes["/widget.js"] <= LOADER_BUDGET, sizes
    chunks = [path for path in sizes if path != "/widget.js"]
    assert any(re.fullmatch(r"/widget/ui-\w+\.js", p) for p in chunks), chunks
    assert any(re.fullmatch(r"/widget/socket\.io-\w+\.js", p) for p in chunks), chunks


# Every front end's unit tests: the widget's and the agent console's (package.json's "test" script).
UNIT_TEST_DIRS = ("client/test", "agent_console/test")


def _declared_tests() -> dict[str, list[str]]:
    """The names of the top-level test("...") calls in each unit test file."""
    declared = {}
    for directory in UNIT_TEST_DIRS:
        for path in sorted((ROOT / directory).glob("*.test.js")):
            declared[str(path.relative_to(ROOT))] = re.findall(r'^test\("((?:[^"\\]|\\.)*)"', path.read_text(), re.M)
    return declared


def test_front_end_unit_tests_pass() -> None:
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed for the front ends' unit tests"
    script = json.loads((ROOT / "package.json").read_text())["scripts"]["test"]
    assert all(directory in script for directory in UNIT_TEST_DIRS), script
    result = subprocess.run([npm, "test", "--silent"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"^# fail 0$", result.stdout, re.M), result.stdout[-2000:]
    passed = set(re.findall(r"^ok \d+ - (.*)$", result.stdout, re.M))
    declared = _declared_tests()
    assert any(f.startswith("agent_console/") and names for f, names in declared.items()), declared
    for file, names in declared.items():
        assert names, f"{file} declares no test"
        missing = [name for name in names if name not in passed]
        assert not missing, f"{file}: did not run or pass: {missing}\n{result.stdout[-2000:]}"
