"""README.md's tour, run as a reader runs it, so that the README cannot drift from the server.

The tour is every ``sh`` block after the ``<!-- tour -->`` marker (to the end of the file, or to a
``<!-- /tour -->`` marker when there is one), so that calls added anywhere below are run too.
Each command runs with bash, in order, in one folder, its shell variables and functions carried
to the next command. ``headwater sandbox acton``, ``headwater sandbox mailchimp``, ``headwater
receiver`` and ``headwater serve`` run in the background, as in their own terminals. Only the
tour's ports are replaced, by free ones. Every command must exit 0 (curl with
``--fail-with-body``, so that an HTTP error fails it), and a ``# → a … b`` line under a command
lists text its output must contain; ``# → (within a few seconds) …`` runs the command again until
it does.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- tour -->"
END_MARKER = "<!-- /tour -->"
TOUR_PORTS = ("8000", "8100", "8200", "8300")
EXPECT = "# →"
EVENTUALLY = "(within a few seconds)"
EVENTUALLY_SECONDS = 20.0
SERVER = re.compile(r"(^|\s)headwater (serve|sandbox acton|sandbox mailchimp|receiver)\b")
HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")


@dataclasses.dataclass
class Step:
    line: int
    command: str
    expect: list[str] = dataclasses.field(default_factory=list)
    eventually: bool = False

    @property
    def server(self) -> bool:
        return SERVER.search(self.command.replace("\\\n", " ")) is not None

    def where(self) -> str:
        return f"README.md line {self.line}: {self.command.splitlines()[0]}"


def _complete(lines: list[str]) -> bool:
    """Whether ``lines`` hold a whole command (continuations, quotes and heredocs closed)."""
    if lines[-1].endswith("\\"):
        return False
    for index, line in enumerate(lines):
        for match in HEREDOC.finditer(line):
            if not any(later.strip() == match.group(2) for later in lines[index + 1 :]):
                return False
    check = subprocess.run(
        ["bash", "-n"], input="\n".join(lines) + "\n", capture_output=True, text=True
    )
    return check.returncode == 0


def _block_steps(block: list[str], first_line: int) -> list[Step]:
    steps: list[Step] = []
    pending: list[str] = []
    start = first_line
    for number, line in enumerate(block, first_line):
        stripped = line.strip()
        if not pending:
            if stripped.startswith(EXPECT):
                assert steps, f"README.md line {number}: an expectation under no command"
                text = stripped.removeprefix(EXPECT).strip()
                if text.startswith(EVENTUALLY):
                    steps[-1].eventually = True
                    text = text.removeprefix(EVENTUALLY)
                steps[-1].expect += [part.strip() for part in text.split("…") if part.strip()]
                continue
            if not stripped or stripped.startswith("#"):
                continue
            start = number
        pending.append(line)
        if _complete(pending):
            steps.append(Step(start, "\n".join(pending)))
            pending = []
    assert not pending, f"README.md line {start}: the command never ends"
    return steps


def tour(text: str, ports: dict[str, int]) -> list[Step]:
    """The tour's commands, in order, with the tour's ports replaced by ``ports``."""
    for old, new in ports.items():
        text = text.replace(f"127.0.0.1:{old}", f"127.0.0.1:{new}")
        text = text.replace(f"--port {old}", f"--port {new}")
    lines = text.splitlines()
    assert lines.count(MARKER) == 1, f"README.md needs one {MARKER} line before the tour"
    index = lines.index(MARKER) + 1
    end_of_tour = lines.index(END_MARKER) if END_MARKER in lines else len(lines)
    steps: list[Step] = []
    while index < end_of_tour:
        if lines[index].strip() == "```sh":
            end = lines.index("```", index + 1)
            steps += _block_steps(lines[index + 1 : end], index + 2)
            index = end
        index += 1
    return steps


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


class Reader:
    """One reader's terminals: a folder, an environment, shell state carried between commands."""

    def __init__(self, folder: Path, env: dict[str, str], names: list[str]) -> None:
        self.folder = folder
        self.env = env
        self.state = folder / ".tour-state.sh"
        self.state.write_text("")
        self.names = " ".join(names)
        self.servers: list[tuple[Step, subprocess.Popen[bytes], Path]] = []

    def run(self, step: Step) -> subprocess.CompletedProcess[str]:
        script = (
            f"source {self.state}\n"
            'curl() { command curl --fail-with-body "$@"; }\n'
            f"{step.command}\n"
            "__tour_status=$?\n"
            f"{{ declare -p {self.names} 2>/dev/null; declare -f; }} > {self.state}\n"
            "exit $__tour_status\n"
        )
        return subprocess.run(
            ["bash", "-c", script],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def start(self, step: Step) -> None:
        port = re.search(r"--port (\d+)", step.command)
        assert port, f"{step.where()}: a server of the tour names its --port"
        log = self.folder / f"server-{len(self.servers)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", f"source {self.state}\n{step.command}"],
                cwd=self.folder,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.servers.append((step, process, log))
        deadline = time.monotonic() + 30
        while not _listening(int(port.group(1))):
            assert process.poll() is None, f"{step.where()} stopped:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"{step.where()} did not listen within 30 s"
            time.sleep(0.05)

    def logs(self) -> str:
        return "\n".join(
            f"--- {step.where()}\n{log.read_text(errors='replace')[-3000:]}"
            for step, _, log in self.servers
        )

    def stop(self) -> None:
        for _, process, _ in reversed(self.servers):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _, process, _ in self.servers:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _shown(step: Step, done: subprocess.CompletedProcess[str], missing: list[str]) -> str:
    return (
        f"{step.where()}\nexit status {done.returncode}; missing from the output: {missing}\n"
        f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    )


@pytest.fixture
def reader(db_kind: str, db_url: str, tmp_path: Path) -> Iterator[Reader]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    if db_kind == "postgresql":
        # a reader running on PostgreSQL has these two in the environment of every terminal
        env["HEADWATER_DATABASE_URL"] = db_url
        env["HEADWATER_SECRET_KEY"] = "readme-tour-secret-key-0001"
    folder = tmp_path / "tour"
    folder.mkdir()
    names = sorted(set(re.findall(r"(?m)^\s*(?:export\s+)?([A-Za-z_]\w*)=", README.read_text())))
    running = Reader(folder, env, names)
    try:
        yield running
    finally:
        running.stop()


def test_the_tour_parses_into_commands() -> None:
    steps = tour(README.read_text(), {})
    assert sum(step.server for step in steps) == 4
    assert [s for s in steps if s.server][-1].command.endswith("headwater serve --port 8000")
    curls = [s for s in steps if "curl " in s.command]
    assert len(curls) >= 15
    assert sum(bool(s.expect) for s in steps) >= 12
    assert any(s.eventually for s in steps)


def test_the_readme_tour_runs_as_written(reader: Reader) -> None:
    ports = {old: _free_port() for old in TOUR_PORTS}
    steps = tour(README.read_text(), {k: v for k, v in ports.items()})
    for step in steps:
        if step.server:
            reader.start(step)
            continue
        deadline = time.monotonic() + EVENTUALLY_SECONDS
        while True:
            done = reader.run(step)
            missing = [part for part in step.expect if part not in done.stdout]
            if done.returncode == 0 and not missing:
                break
            if not step.eventually or time.monotonic() > deadline:
                pytest.fail(_shown(step, done, missing) + "\n" + reader.logs())
            time.sleep(0.2)
    # the receiver verified both signatures of every notification it printed
    receiver_log = next(log for step, _, log in reader.servers if "receiver" in step.command)
    printed = receiver_log.read_text()
    assert printed.count("✓ Elements-Webhook-Signature ✓ webhook-signature") >= 4, printed
    assert "✗" not in printed, printed
