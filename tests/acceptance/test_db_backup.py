"""``headwater db backup``: a consistent copy of a SQLite database that is being written."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from headwater.storage import backup, migrate
from tests import cli_support


def _organizations(path: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(path) as conn:
        return list(conn.execute("SELECT id, name FROM organizations ORDER BY id"))


def test_backup_of_a_database_being_written(tmp_path: Path) -> None:
    env = cli_support.env(tmp_path)
    assert cli_support.run(["db", "upgrade"], env, tmp_path).returncode == 0
    source = tmp_path / "data" / "headwater.db"
    with sqlite3.connect(source) as conn:
        conn.executemany(
            "INSERT INTO organizations (name, secret_hash, created_at) VALUES (?, ?, ?)",
            [(f"seed-{n}-" + "x" * 150, f"{n:064x}", "2026-12-01 00:00:00") for n in range(20000)],
        )
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        # another process's writes, committed one by one while the copy runs
        with sqlite3.connect(source, timeout=30) as conn:
            n = 0
            while not stop.is_set():
                n += 1
                conn.execute(
                    "INSERT INTO organizations (name, secret_hash, created_at) VALUES (?, ?, ?)",
                    (f"live-{n}", f"live{n:060d}", "2026-12-02 00:00:00"),
                )
                conn.commit()
                written.append(n)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not written and time.monotonic() < deadline:
            time.sleep(0.01)
        before = len(written)
        target = tmp_path / "copy.db"
        result = cli_support.run(["db", "backup", str(target)], env, tmp_path, timeout=120)
        during = len(written)
    finally:
        stop.set()
        thread.join()
    assert 0 < before < during, "the writer did not write while the backup ran"
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("backed up ") and str(target) in result.stdout
    assert "\r" not in result.stdout  # no progress display when not on a terminal
    copied = _organizations(target)
    names = [name for _, name in copied]
    assert sum(name.startswith("seed-") for name in names) == 20000
    live = [int(name.split("-")[1]) for name in names if name.startswith("live-")]
    assert live == list(range(1, len(live) + 1))  # a consistent prefix of the writes
    assert len(copied) <= len(_organizations(source))
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
            migrate.head(),
        )
    assert (target.stat().st_mode & 0o777) == 0o600
    assert not list(tmp_path.glob(".copy.db.partial"))


def test_backup_reports_progress_in_steps(tmp_path: Path) -> None:
    source = tmp_path / "big.db"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE t (v TEXT)")
        conn.executemany("INSERT INTO t VALUES (?)", [("y" * 1000,) for _ in range(10000)])
    seen: list[tuple[int, int]] = []
    copied = backup.sqlite(
        f"sqlite:///{source}", tmp_path / "out.db", progress=lambda *p: seen.append(p)
    )
    assert len(seen) > 1 and seen[-1] == (copied.pages, copied.pages)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    with sqlite3.connect(tmp_path / "out.db") as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (10000,)


def test_backup_refuses_postgresql_and_names_pg_dump(tmp_path: Path) -> None:
    env = cli_support.env(
        tmp_path, HEADWATER_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/none"
    )
    result = cli_support.run(["db", "backup", str(tmp_path / "x.db")], env, tmp_path)
    assert result.returncode == 1
    assert "pg_dump" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_backup_of_a_missing_database_says_so(tmp_path: Path) -> None:
    result = cli_support.run(
        ["db", "backup", str(tmp_path / "x.db")], cli_support.env(tmp_path), tmp_path
    )
    assert result.returncode == 1
    assert "no database at" in result.stderr and "Traceback" not in result.stderr
