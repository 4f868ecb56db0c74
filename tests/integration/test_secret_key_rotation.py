"""Rotating the server's secret key: every stored secret sealed again under the new key while the
old one is still read; refused and accepted keys at each step; interrupted for real (SIGKILL) and
resumed; servers configured with both keys keep working throughout."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import pty
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from headwater.errors import ConfigurationError
from headwater.storage import db, keyring, rekey, secrets, tables, tenants
from tests import cli_support, databases
from tests.api_fixtures import RunningApi, api_settings, running_api

OLD, NEW = "the-old-secret-key-0001", "the-new-secret-key-0002"


def _plain(n: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
    tokens = None if n % 7 == 0 else {"access_token": f"at-{n}", "refresh_token": f"rt-{n}"}
    return {"event.notification.signature.key": f"signing-key-{n:08d}"}, tokens


async def _seed(url: str, count: int) -> None:
    """``count`` instances whose secrets (and, for most, provider tokens) are sealed under OLD."""
    engine = db.make_engine(url)
    try:
        box = await keyring.open_box(engine, OLD)
        now = dt.datetime.now(dt.UTC)
        async with db.transaction(engine) as conn:
            t = await tenants.create(conn, organization_name="Acme", now=now)
            rows = []
            for n in range(count):
                sealed, tokens = _plain(n)
                rows.append(
                    {
                        "organization_id": t.organization_id,
                        "user_id": t.user_id,
                        "element_key": "acton",
                        "name": f"instance {n}",
                        "tags": [],
                        "token_hash": f"{n:064x}",
                        "configuration": {"n": n},
                        "secrets": box.seal(sealed),
                        "provider_tokens": None if tokens is None else box.seal(tokens),
                        "valid": True,
                        "disabled": False,
                        "events_enabled": False,
                        "subscription_active": True,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            await conn.execute(sa.insert(tables.instances), rows)
    finally:
        await engine.dispose()


async def _rows(url: str) -> list[Any]:
    engine = db.make_engine(url)
    try:
        async with db.reading(engine) as conn:
            t = tables.instances
            query = sa.select(t.c.configuration, t.c.secrets, t.c.provider_tokens).order_by(t.c.id)
            return list((await conn.execute(query)).all())
    finally:
        await engine.dispose()


async def _box(url: str, key: str, previous: str | None = None) -> secrets.SecretBox:
    engine = db.make_engine(url)
    try:
        return await keyring.open_box(engine, key, previous)
    finally:
        await engine.dispose()


def _check_all_open(rows: list[Any], box: secrets.SecretBox) -> int:
    """Every secret opens with ``box`` to what was sealed; returns how many its own key seals."""
    mine = 0
    for row in rows:
        sealed, tokens = _plain(row.configuration["n"])
        assert box.open(row.secrets) == sealed
        mine += box.sealed_by_me(row.secrets)
        if tokens is None:
            assert row.provider_tokens is None
        else:
            assert box.open(row.provider_tokens) == tokens
            mine += box.sealed_by_me(row.provider_tokens)
    return mine


async def test_a_rotation_accepts_and_refuses_the_right_keys_at_each_step(db_url: str) -> None:
    await _seed(db_url, 30)
    total = 30 + sum(1 for n in range(30) if n % 7)
    # a new key alone is refused: nothing says it replaces the recorded one
    with pytest.raises(ConfigurationError, match="differs from the key"):
        await _box(db_url, NEW)
    with pytest.raises(ConfigurationError, match="neither"):
        await _box(db_url, NEW, "not-the-old-key-000")
    # the new key with the old one as previous starts the rotation: reads both, seals new
    both = await _box(db_url, NEW, OLD)
    assert _check_all_open(await _rows(db_url), both) == 0
    assert both.sealed_by_me(both.seal({"x": 1}))
    # from now on: the old key alone is refused, and so is the new one without the previous
    with pytest.raises(ConfigurationError, match="being moved from"):
        await _box(db_url, OLD)
    with pytest.raises(ConfigurationError, match="HEADWATER_PREVIOUS_SECRET_KEY to the key"):
        await _box(db_url, NEW)
    with pytest.raises(ConfigurationError, match="not the key this database"):
        await _box(db_url, NEW, "not-the-old-key-000")
    # another process starting with both keys joins the same rotation
    again = await _box(db_url, NEW, OLD)
    assert again.fingerprint == both.fingerprint
    seen: list[tuple[int, int]] = []
    engine = db.make_engine(db_url)
    try:
        done = await rekey.rotate(engine, both, progress=lambda d, t: seen.append((d, t)), batch=7)
    finally:
        await engine.dispose()
    assert (done.total, done.renewed, done.retired) == (total, total, True)
    assert seen[-1] == (total, total) and len(seen) > 2
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    # every secret opens with the new key alone, as it was
    alone = await _box(db_url, NEW)
    assert _check_all_open(await _rows(db_url), alone) == total
    # the old key is retired: refused alone, ignored as previous
    with pytest.raises(ConfigurationError, match="differs from the key"):
        await _box(db_url, OLD)
    assert (await _box(db_url, NEW, OLD)).fingerprint == alone.fingerprint


def _start_and_kill(command: list[str], environ: dict[str, str], cwd: Path) -> int:
    """Run ``command`` until it has printed two progress lines, then SIGKILL it."""
    with (
        (cwd / "rotate.log").open("w") as log,
        subprocess.Popen(
            command, env=environ, cwd=cwd, stdout=subprocess.PIPE, stderr=log, text=True
        ) as process,
    ):
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("re-encrypted "), first
        # plain progress lines: wait for one past the start, then kill it where it stands
        line = process.stdout.readline()
        assert line.startswith("re-encrypted "), line
        process.send_signal(signal.SIGKILL)
        return process.wait(timeout=30)


def _on_terminal(command: list[str], environ: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run ``command`` on a pseudo-terminal; its exit status and what it showed."""
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            command, env=environ, cwd=cwd, stdin=follower, stdout=follower, stderr=follower
        )
        os.close(follower)
        output = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            output += chunk
        return process.wait(timeout=60), output.decode()
    finally:
        os.close(leader)


def _rotate_command(url: str, tmp_path: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    environ = cli_support.env(
        tmp_path,
        HEADWATER_DATABASE_URL=url,
        HEADWATER_SECRET_KEY=NEW,
        HEADWATER_PREVIOUS_SECRET_KEY=OLD,
    )
    return [*cli_support.HEADWATER, "secret-key", "rotate", *args], environ


async def test_a_rotation_killed_halfway_resumes_and_servers_read_throughout(
    db_url: str, tmp_path: Path
) -> None:
    count = 300
    await _seed(db_url, count)
    total = count + sum(1 for n in range(count) if n % 7)
    # a server configured with both keys, started before the rotation
    server = await _box(db_url, NEW, OLD)
    command, environ = _rotate_command(db_url, tmp_path, "--batch-size", "1")
    returncode = await asyncio.to_thread(_start_and_kill, command, environ, tmp_path)
    assert returncode == -signal.SIGKILL
    rows = await _rows(db_url)
    renewed = _check_all_open(rows, server)  # nothing unreadable, nothing sealed twice
    assert 0 < renewed < total, renewed
    # the old key still reads what is left under it; the new one alone does not
    old_only = secrets.SecretBox.derived(OLD, secrets.Derivation.read(await _previous(db_url))[0])
    assert sum(1 for row in rows if old_only.sealed_by_me(row.secrets)) > 0
    # run again: it finishes
    done = await asyncio.to_thread(
        subprocess.run,
        command,
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"{total} secret(s) are sealed under HEADWATER_SECRET_KEY" in done.stdout
    assert f"({total - renewed} renewed)" in done.stdout
    assert "Remove HEADWATER_PREVIOUS_SECRET_KEY" in done.stdout
    rows = await _rows(db_url)
    assert _check_all_open(rows, server) == total  # the running server still reads everything
    assert _check_all_open(rows, await _box(db_url, NEW)) == total
    # and once more: nothing to do, the previous key is not needed any more
    engine = db.make_engine(db_url)
    try:
        again = await rekey.rotate(engine, server)
    finally:
        await engine.dispose()
    assert (again.total, again.renewed, again.retired) == (total, 0, False)


async def _previous(url: str) -> str:
    engine = db.make_engine(url)
    try:
        found = await keyring.previous_record(engine)
    finally:
        await engine.dispose()
    assert found is not None
    return found


async def test_a_generated_key_and_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    generate = [*cli_support.HEADWATER, "secret-key", "generate"]
    keys = [
        (
            await asyncio.to_thread(subprocess.run, generate, capture_output=True, text=True)
        ).stdout.strip()
        for _ in range(2)
    ]
    assert keys[0] != keys[1] and all(len(key) == 44 for key in keys)
    url = await databases.fresh_sqlite(tmp_path)
    await _seed(url, 40)
    command, environ = _rotate_command(url, tmp_path, "--batch-size", "5")
    environ["HEADWATER_SECRET_KEY"] = keys[0]
    returncode, text = await asyncio.to_thread(_on_terminal, command, environ, tmp_path)
    assert returncode == 0, text
    assert "\rre-encrypting [" in text and "] 74/74" in text
    assert "re-encrypted " not in text  # no plain lines on a terminal
    assert _check_all_open(await _rows(url), await _box(url, keys[0])) == 74


async def test_served_apis_with_both_keys_work_before_during_and_after(
    api: RunningApi, tmp_path: Path
) -> None:
    auth = await api.create_user()
    first = await api.create_instance(auth=auth)  # sealed under the fixture's key, the old one
    old = api.settings.secret_key
    assert old is not None
    both = api_settings(
        api.settings.database_url,
        api.sandbox,
        tmp_path / "both",
        secret_key=NEW,
        previous_secret_key=old,
    )

    async def works(served: RunningApi, instance: dict[str, Any]) -> None:
        hub = await served.call(
            "GET", "hubs/marketing/lists", auth=f"{auth}, Element {instance['token']}"
        )
        assert hub.status == 200, hub.text
        shown = await served.call("GET", f"instances/{instance['id']}", auth=auth)
        assert shown.status == 200, shown.text
        assert shown.json["configuration"]["oauth.api.secret"] == "********"

    async with running_api(both, api.sandbox) as restarted:
        await works(restarted, first)
        second = await restarted.create_instance(auth=auth)  # sealed under the new key
        await works(restarted, second)
        command, environ = _rotate_command(api.settings.database_url, tmp_path, "--batch-size", "1")
        environ["HEADWATER_PREVIOUS_SECRET_KEY"] = old
        rotating = await asyncio.create_subprocess_exec(
            *command, env=environ, cwd=tmp_path, stdout=asyncio.subprocess.PIPE
        )
        while rotating.returncode is None:  # calls keep working while it runs
            await works(restarted, first)
            await works(restarted, second)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rotating.wait(), 0.05)
        output, _ = await rotating.communicate()
        assert rotating.returncode == 0, output
        await works(restarted, first)
        await works(restarted, second)
    new_only = api_settings(
        api.settings.database_url, api.sandbox, tmp_path / "new", secret_key=NEW
    )
    async with running_api(new_only, api.sandbox) as retired:
        await works(retired, first)
        await works(retired, second)


async def test_the_command_says_what_is_wrong_with_its_keys(tmp_path: Path) -> None:
    url = await databases.fresh_sqlite(tmp_path)
    await _seed(url, 3)
    command, environ = _rotate_command(url, tmp_path)
    # on SQLite with the key file: the old key given as previous, the new one forgotten
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / secrets.KEY_FILE).write_text(OLD + "\n")
    del environ["HEADWATER_SECRET_KEY"]
    same = await asyncio.to_thread(
        subprocess.run, command, env=environ, cwd=tmp_path, capture_output=True, text=True
    )
    assert same.returncode == 1 and "is the same key as HEADWATER_SECRET_KEY" in same.stderr
    environ["HEADWATER_SECRET_KEY"] = NEW
    environ["HEADWATER_PREVIOUS_SECRET_KEY"] = "not-the-old-key-000"
    wrong = await asyncio.to_thread(
        subprocess.run, command, env=environ, cwd=tmp_path, capture_output=True, text=True
    )
    assert wrong.returncode == 1 and "neither HEADWATER_SECRET_KEY" in wrong.stderr
    assert "Traceback" not in same.stderr + wrong.stderr
    # nothing was changed: the old key alone still opens everything
    assert _check_all_open(await _rows(url), await _box(url, OLD)) == 3 + 2


async def test_every_sealed_column_is_renewed(db_url: str) -> None:
    """Beside an instance's secrets: the signature key a rotation keeps for its overlap and an
    organization's operations signature key."""
    await _seed(db_url, 2)
    engine = db.make_engine(db_url)
    try:
        old = await keyring.open_box(engine, OLD)
        now = dt.datetime.now(dt.UTC)
        async with db.transaction(engine) as conn:
            await conn.execute(
                sa.update(tables.instances).values(previous_signature_key=old.seal({"key": "was"}))
            )
            organization = await conn.scalar(sa.select(tables.organizations.c.id))
            await conn.execute(
                sa.insert(tables.operations_endpoints).values(
                    organization_id=organization,
                    url="http://127.0.0.1:9/ops",
                    signature_key=old.seal({"key": "ops"}),
                    created_at=now,
                    updated_at=now,
                )
            )
        sealed = {(table.name, name) for table, name in rekey.SEALED}
        assert ("instances", "previous_signature_key") in sealed
        assert ("operations_endpoints", "signature_key") in sealed
        done = await rekey.rotate(engine, await keyring.open_box(engine, NEW, OLD))
        assert done.renewed == done.total == 2 + 1 + 2 + 1  # secrets, tokens, previous keys, ops
        alone = await keyring.open_box(engine, NEW)
        async with db.reading(engine) as conn:
            previous = await conn.execute(sa.select(tables.instances.c.previous_signature_key))
            assert [alone.open(value) for value in previous.scalars()] == [{"key": "was"}] * 2
            ops = await conn.scalar(sa.select(tables.operations_endpoints.c.signature_key))
            assert alone.open(ops) == {"key": "ops"}
    finally:
        await engine.dispose()
