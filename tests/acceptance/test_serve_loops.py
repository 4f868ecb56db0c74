"""`headwater serve` stops, loudly, when its background loops crash: no API without workers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

SCRIPT = """
from headwater import bootstrap, runtime

async def crash(container, stop):
    raise RuntimeError("loop exploded")

bootstrap.background_loops = lambda: [crash]
runtime.serve(host="127.0.0.1", port={port}, workers=True)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_a_crashed_loop_stops_the_server(tmp_path: Path) -> None:
    env = {**os.environ, "HEADWATER_DATA_DIR": str(tmp_path)}
    env.pop("HEADWATER_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(port=_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "the background loops crashed; stopping" in done.stderr
    assert "loop exploded" in done.stderr
