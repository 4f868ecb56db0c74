"""``headwater elements list | show | validate | schema`` as a user runs them: subprocesses that
read ``HEADWATER_ELEMENTS_PATH`` like the server does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

import headwater

HEADWATER = [str(Path(sys.executable).parent / "headwater")]
ELEMENTS = Path(__file__).resolve().parents[1] / "elements"
SOURCE = Path(headwater.__file__).resolve().parents[1]


def _run(*args: str, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    # the package under test, wherever the command is installed from
    env["PYTHONPATH"] = os.pathsep.join([str(SOURCE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["HEADWATER_DATA_DIR"] = str(tmp_path / "data")
    env.update(extra)
    return subprocess.run(
        [*HEADWATER, "elements", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_list_shows_the_shipped_elements_and_those_in_the_path(tmp_path: Path) -> None:
    alone = _run("list", tmp_path=tmp_path)
    assert alone.returncode == 0, alone.stderr
    assert [line.split() for line in alone.stdout.splitlines()] == [
        ["KEY", "NAME", "HUB", "EVENTS"],
        ["acton", "Act-On", "marketing", "polling,webhooks"],
        ["mailchimp", "Mailchimp", "marketing", "polling,webhooks"],
    ]
    more = _run("list", tmp_path=tmp_path, HEADWATER_ELEMENTS_PATH=str(ELEMENTS))
    assert more.returncode == 0, more.stderr
    assert more.stdout.splitlines()[3].split() == ["notes", "Notes", "crm", "polling"]


def test_show_prints_the_declaration_as_yaml(tmp_path: Path) -> None:
    shown = _run(
        "show",
        "notes",
        tmp_path=tmp_path,
        HEADWATER_ELEMENTS_PATH=str(ELEMENTS),
        HEADWATER_NOTES_LOGIN_URL="http://127.0.0.1:9",
    )
    assert shown.returncode == 0, shown.stderr
    assert yaml.safe_load(shown.stdout) == yaml.safe_load(
        (ELEMENTS / "notes" / "element.yaml").read_text()
    )
    assert "# api.urls.login is http://127.0.0.1:9 here (HEADWATER_NOTES_LOGIN_URL)" in shown.stdout
    acton = yaml.safe_load(_run("show", "acton", tmp_path=tmp_path).stdout)
    assert acton["hooks"] == "headwater.elements.acton.hooks"
    assert [r["name"] for r in acton["resources"]] == ["lists", "contacts"]
    missing = _run("show", "nope", tmp_path=tmp_path)
    assert missing.returncode == 1 and "No element with key 'nope'" in missing.stderr


def test_validate_says_ok_or_names_line_and_key(tmp_path: Path) -> None:
    good = _run("validate", str(ELEMENTS / "notes"), tmp_path=tmp_path)
    assert (good.returncode, good.stdout) == (0, f"{ELEMENTS / 'notes' / 'element.yaml'}: ok\n")

    broken = tmp_path / "broken.yaml"
    text = (ELEMENTS / "notes" / "element.yaml").read_text()
    broken.write_text(text.replace("style: offset", "style: cursor"))
    line = text.splitlines().index("      style: offset") + 1
    bad = _run("validate", str(broken), tmp_path=tmp_path)
    assert bad.returncode == 1
    assert bad.stdout == (
        f"{broken}:{line}: resources[1].paging.style: 'cursor' is not one of "
        "['offset', 'pageNumber', 'pageToken', 'link']\n"
    )
    nothing = _run("validate", str(tmp_path / "nowhere"), tmp_path=tmp_path)
    assert nothing.returncode == 1 and "no element.yaml here" in nothing.stdout


def test_a_broken_declaration_in_the_path_is_reported_not_raised(tmp_path: Path) -> None:
    folder = tmp_path / "mine" / "tiny"
    folder.mkdir(parents=True)
    (folder / "element.yaml").write_text("key: Tiny\n")
    listed = _run("list", tmp_path=tmp_path, HEADWATER_ELEMENTS_PATH=str(tmp_path / "mine"))
    assert listed.returncode == 1
    assert f"{folder / 'element.yaml'}:1: key: 'Tiny' does not have the expected form" in (
        listed.stderr
    )
    assert "Traceback" not in listed.stderr


def test_schema_prints_the_json_schema(tmp_path: Path) -> None:
    printed = _run("schema", tmp_path=tmp_path)
    assert printed.returncode == 0, printed.stderr
    loaded = json.loads(printed.stdout)
    assert loaded["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(loaded["required"]) == {"key", "name", "hub", "api", "authentication"}
