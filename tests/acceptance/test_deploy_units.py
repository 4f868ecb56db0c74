"""The systemd units in ``deploy/systemd`` pass ``systemd-analyze verify``, and run what exists."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
INSTALLED = "/opt/headwater/.venv/bin/headwater"  # where docs/deploy.md installs it
REQUIRED = os.environ.get("CI") == "true"


def _systemd_analyze() -> str:
    """The path of systemd-analyze, installing Debian's systemd package when it is missing."""
    found = shutil.which("systemd-analyze")
    if found is None and shutil.which("apt-get") is not None:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "systemd"],
            capture_output=True,
            timeout=600,
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = shutil.which("systemd-analyze")
    if found is None:
        reason = "systemd-analyze is missing and `apt-get install -y systemd` did not install it"
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)
    return found


@pytest.mark.parametrize(
    ("unit", "as_named"),
    [
        ("headwater.service", "headwater.service"),
        ("headwater-worker@.service", "headwater-worker@9101.service"),
    ],
)
def test_unit_verifies(unit: str, as_named: str, tmp_path: Path) -> None:
    analyze = _systemd_analyze()
    text = (UNITS / unit).read_text()
    assert INSTALLED in text
    # the unit runs this checkout's command instead of the installed one
    here = str(Path(sys.executable).parent / "headwater")
    (tmp_path / as_named).write_text(text.replace(INSTALLED, here))
    result = subprocess.run(
        [analyze, "verify", str(tmp_path / as_named)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # what systemd-analyze only warns about still counts
    problems = [line for line in result.stderr.splitlines() if as_named in line]
    assert problems == [], result.stderr


def test_the_units_start_the_commands_the_cli_has() -> None:
    serve = (UNITS / "headwater.service").read_text()
    worker = (UNITS / "headwater-worker@.service").read_text()
    assert f"ExecStart={INSTALLED} serve " in serve
    assert f"ExecStart={INSTALLED} worker " in worker and "--metrics-port %i" in worker
    for command in (["serve", "--help"], ["worker", "--help"]):
        shown = subprocess.run(
            [str(Path(sys.executable).parent / "headwater"), *command],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
    assert "--metrics-port" in shown.stdout and "--metrics-host" in shown.stdout
