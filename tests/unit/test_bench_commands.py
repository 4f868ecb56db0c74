"""Each benchmark command imports and explains its flags (the benchmarks themselves are run by
hand: they start servers and take minutes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
COMMANDS = [
    "poll_throughput",
    "delivery_throughput",
    "latency",
    "scale",
    "poll_lag",
    "webhook_latency",
]


@pytest.mark.parametrize("name", COMMANDS)
def test_bench_command_parses_help(name: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--seconds" in done.stdout
    assert "--database-url" in done.stdout
