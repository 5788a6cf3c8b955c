"""Load-test scenarios, each a module that fits ``Scenario``; ``python -m loadtests NAME`` runs one."""

from __future__ import annotations

import argparse
from typing import Any, Protocol

from ..server import Target
from ..stats import Summary


class ScenarioConfig(Protocol):
    def check(self) -> None:
        """Raise ``LoadTestError`` on settings that cannot run."""

    def clients(self) -> int:
        """Socket.IO connections the scenario opens at once at its peak."""

    def send_rate(self) -> float:
        """Messages (or co-browse batches, or requests) per second the scenario sends at its
        highest; 0 for a closed loop, which is paced by the server's replies."""

    def server_settings(self) -> dict[str, str]:
        """Settings a server started for this scenario needs (``--server-setting`` overrides them)."""


class ScenarioResult(Protocol):
    @property
    def passed(self) -> bool: ...

    @property
    def inconclusive(self) -> bool:
        """The run was too short or too small to judge its target either way (exit status 4)."""

    def summaries(self) -> dict[str, Summary]: ...

    def as_report(self) -> dict[str, Any]: ...


class Scenario(Protocol):
    NAME: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def config_from(self, args: argparse.Namespace) -> ScenarioConfig: ...

    # ``config`` is what this scenario's ``config_from`` made.
    async def run(self, target: Target, config: Any, deadline: float, progress: bool = True) -> ScenarioResult: ...

    def format_result(self, result: Any) -> str: ...


def all_scenarios() -> dict[str, Scenario]:
    from . import attacks, chat, churn, kb_search, routing

    found: dict[str, Scenario] = {routing.NAME: routing, kb_search.NAME: kb_search, churn.NAME: churn,
                                  attacks.NAME: attacks}
    found.update({scenario.NAME: scenario for scenario in chat.scenarios()})
    return found


__all__ = ["Scenario", "ScenarioConfig", "ScenarioResult", "all_scenarios"]
