"""Online backups of a SQLite database, through SQLite's backup API.

The copy is taken while the server runs: SQLite copies the pages in steps and starts again when
another connection writes between two steps, so the result is always one consistent state of
the database. Under a steady stream of writes the steps may never catch up; after a few
restarts the rest is copied in one step, inside one read transaction (in WAL mode writers go on
meanwhile). It is written beside the target first and renamed into place, so that a failed
backup never leaves a half-written file under the name asked for.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from headwater.errors import ConfigurationError, StorageError
from headwater.storage import db, files

STEP_PAGES = 1024
"""Pages copied per step; between steps writers may go on."""

RESTARTS = 3
"""Restarts of the stepped copy tolerated before the rest is copied in one step."""

Progress = Callable[[int, int], None]
"""Told after each step: pages copied so far, pages in all."""


@dataclasses.dataclass(frozen=True)
class Copied:
    """What a backup wrote."""

    path: Path
    pages: int
    bytes: int


class _Outpaced(Exception):
    """Writers restarted the stepped copy too often."""


def source_path(url: str) -> Path:
    """The SQLite file behind ``url``; refuses PostgreSQL (and in-memory databases)."""
    if not db.is_sqlite(db.async_url(url)):
        raise ConfigurationError(
            "headwater db backup copies SQLite databases only; back up PostgreSQL with "
            "pg_dump, e.g. `pg_dump --format=custom --file=headwater.dump <database>`"
        )
    name = sa.engine.make_url(db.async_url(url)).database
    if not name or name == ":memory:":
        raise ConfigurationError("an in-memory SQLite database has nothing to back up")
    path = Path(name)
    if not path.exists():
        raise ConfigurationError(f"there is no database at {path}")
    return path


def sqlite(url: str, target: Path, *, progress: Progress | None = None) -> Copied:
    """Copy the SQLite database at ``url`` into ``target`` while it stays in use."""
    source = source_path(url)
    target = target.expanduser()
    if target.resolve() == source.resolve():
        raise ConfigurationError("the backup cannot overwrite the database it copies")
    if target.is_dir():
        raise ConfigurationError(f"{target} is a folder; name the backup file")
    if not target.parent.is_dir():
        raise ConfigurationError(f"there is no folder {target.parent} to write the backup in")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    copied = 0
    restarts = 0

    def step(_status: int, remaining: int, total: int) -> None:
        nonlocal copied, restarts
        if total - remaining < copied:
            restarts += 1
            if restarts > RESTARTS:
                raise _Outpaced
        copied = total - remaining
        if progress is not None:
            progress(copied, total)

    try:
        # the copy holds secrets as the database does: readable by its owner only
        files.private_file(partial)
        with (
            contextlib.closing(sqlite3.connect(source, timeout=30)) as src,
            contextlib.closing(sqlite3.connect(partial)) as dst,
        ):
            try:
                src.backup(dst, pages=STEP_PAGES, progress=step)
            except _Outpaced:
                src.backup(dst, pages=-1)
                copied = src.execute("PRAGMA page_count").fetchone()[0]
                if progress is not None:
                    progress(copied, copied)
            # one self-contained file: no -wal beside it
            dst.execute("PRAGMA journal_mode=DELETE")
        os.replace(partial, target)
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise StorageError(f"the backup failed: {error}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Copied(path=target, pages=copied, bytes=target.stat().st_size)
