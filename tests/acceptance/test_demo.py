"""`make demo` (``python -m headwater.demo --exit``, Act-On) and ``make demo ELEMENT=mailchimp``
run the whole path and clean up after it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("element", ["acton", "mailchimp"])
def test_the_demo_shows_signed_notifications_and_stops_everything(
    tmp_path: Path, element: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    done = subprocess.run(
        [sys.executable, "-m", "headwater.demo", "--exit", "--element", element],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    verified = re.findall(r"✓ Elements-Webhook-Signature ✓ webhook-signature → ok", out)
    assert len(verified) >= 1
    for change in ("UPDATED contacts", "CREATED contacts", "DELETED contacts"):
        assert change in out, out
    name = {"acton": "Act-On", "mailchimp": "Mailchimp"}[element]
    assert f"{name} sandbox on http://127.0.0.1:" in out, out
    assert re.search(r"verified both signatures of (\d+) of \1 notification", out), out
    assert "NOTIFIED" in out and "delivered" in out
    assert re.search(r"The web UI: http://127\.0\.0\.1:\d+/", out), out
    assert re.search(r"sign in with one click .*: http://127\.0\.0\.1:\d+/sign-in/link/\S+", out)
    assert "Stopped the sandbox, the receiver and the server." in out
    seconds = float(re.search(r"Done in ([\d.]+) s", out).group(1))  # type: ignore[union-attr]
    assert seconds < 60
    (data,) = (tmp_path / "headwater-data" / "demo").iterdir()
    assert (data / "headwater.db").exists() and (data / "serve.log").exists()
    assert _running_in(tmp_path) == [], "processes of the demo are still running"


def _running_in(folder: Path) -> list[int]:
    """Pids of processes whose working directory is ``folder`` (the demo's children inherit it)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if (entry / "cwd").resolve() == folder.resolve():
                found.append(int(entry.name))
        except OSError:
            continue
    return found
