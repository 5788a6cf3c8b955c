"""The load tester's command line: what its help and its errors promise exists."""

from __future__ import annotations

import contextlib
import inspect
import io
import re

import pytest

from loadtests.__main__ import build_parser
from loadtests.scenarios import all_scenarios


def _help(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        build_parser(all_scenarios()).parse_args([*args, "--help"])
    return " ".join(out.getvalue().split())


def test_every_scenario_is_summed_up_in_a_whole_sentence() -> None:
    listing = _help()
    for name, scenario in all_scenarios().items():
        first_paragraph = " ".join((scenario.__doc__ or "").split("\n\n", 1)[0].split())
        assert first_paragraph.rstrip(")").endswith("."), name
        assert f"{name} {first_paragraph}" in listing, name


def test_every_flag_named_in_a_scenario_error_exists() -> None:
    """A check() message that names a flag the parser does not know sends the user nowhere.
    Scenarios that share a module share its messages, so a flag counts when one of them has it."""
    by_module: dict[str, tuple[set[str], set[str]]] = {}
    for name, scenario in all_scenarios().items():
        module = inspect.getsourcefile(scenario.config_from) or name
        with open(module) as file:
            module_source = file.read()
        named = re.findall(r'LoadTestError\(\s*f?"([^"]*)"', module_source)
        flags = {flag for message in named for flag in re.findall(r"--[a-z][a-z0-9-]+", message)}
        known = set(re.findall(r"--[a-z][a-z0-9-]+", _help(name)))
        wanted, have = by_module.setdefault(module, (set(), set()))
        wanted |= flags
        have |= known
    for module, (wanted, have) in by_module.items():
        assert wanted, module
        assert wanted <= have, (module, wanted - have)


def test_routing_gets_the_time_its_default_samples_take_other_scenarios_the_common_bound() -> None:
    parser = build_parser(all_scenarios())
    assert parser.parse_args(["routing"]).max_duration == 900.0  # 1,000 samples: four to seven minutes
    assert parser.parse_args(["steady"]).max_duration == 300.0
    assert parser.parse_args(["routing", "--max-duration", "60"]).max_duration == 60.0
    assert "seconds (900.0)" in _help("routing")
