"""The store benchmark (``python -m loadtests.store_cost``) runs at a tiny size through the real
SQLite store and prints figures that add up; speed is never asserted (the machine is shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.store_cost import main, measure


async def test_the_store_benchmark_measures_every_message_it_stores(tmp_path: Path) -> None:
    cost = await measure(tmp_path, messages=120, conversations=6, warmup=30)
    print(cost)
    assert cost.messages == 120 and cost.conversations == 6
    assert cost.cpu_us > 0 and cost.wall_us > 0
    # Six conversations write at once: their messages share transactions, at most six to one.
    assert 1 <= cost.messages_per_commit <= 6
    assert cost.written_bytes > 0 and cost.write_calls > 0  # the WAL's frames


def test_the_command_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--messages", "40", "--conversations", "4", "--warmup", "4"]) == 0
    out = capsys.readouterr().out
    assert "40 messages from 4 conversations: CPU" in out and "a commit" in out
