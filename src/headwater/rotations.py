"""What the rotation commands run: ``headwater users rotate`` and ``headwater secret-key …``."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncEngine

from headwater import bootstrap, runtime, settings
from headwater.errors import HeadwaterError, InputError
from headwater.instances import rotation
from headwater.storage import db, keyring, migrate, rekey, tenants


async def _migrated(config: settings.Settings) -> AsyncEngine:
    engine = db.make_engine(config.database_url)
    if not await migrate.is_current(engine):
        await engine.dispose()
        raise HeadwaterError("the database is not migrated; run `headwater db upgrade` first")
    return engine


# -- users rotate -----------------------------------------------------------------------------


def rotate_users(
    *, user_id: int | None, organization_id: int | None, overlap: float | None, json_output: bool
) -> None:
    """Rotate a user's secret and/or an organization's; print the new ones (shown once)."""
    if user_id is None and organization_id is None:
        raise SystemExit("headwater: give --user ID, --org ID or both")
    found = runtime.run(lambda config: _rotate_users(config, user_id, organization_id, overlap))
    if json_output:
        print(json.dumps(_as_json(found)))
        return
    for kind, rotated in found.items():
        print(f"New {kind} secret of {kind} {rotated.id} (shown once): {rotated.secret}")
        print(f"  the old one works until {rotated.previous_until.isoformat()}")


def _as_json(found: dict[str, tenants.Rotated]) -> dict[str, object]:
    out: dict[str, object] = {}
    for kind, rotated in found.items():
        out[f"{kind}Id"] = rotated.id
        out[f"{kind}Secret"] = rotated.secret
        out[f"{kind}PreviousSecretExpiresDate"] = rotated.previous_until.isoformat()
    return out


async def _rotate_users(
    config: settings.Settings,
    user_id: int | None,
    organization_id: int | None,
    overlap: float | None,
) -> dict[str, tenants.Rotated]:
    seconds = rotation.overlap(overlap, config.credential_overlap_seconds, field="--overlap")
    engine = await _migrated(config)
    try:
        service = rotation.Rotation(engine=engine, overlap_seconds=seconds)
        found: dict[str, tenants.Rotated] = {}
        if user_id is not None:
            owner = await service.organization_of(user_id)
            if organization_id is not None and owner != organization_id:
                raise InputError(f"user {user_id} is not of organization {organization_id}")
            found["user"] = await service.user_secret(user_id)
        if organization_id is not None:
            found["organization"] = await service.organization_secret(organization_id)
        return found
    finally:
        await engine.dispose()


# -- secret-key ----------------------------------------------------------------------------


def generate_key() -> None:
    """Print a new random secret key."""
    print(Fernet.generate_key().decode())


class _Bar:
    """Progress on a terminal as a bar redrawn in place; elsewhere a line every tenth."""

    WIDTH = 30

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        tenths = 10 * done // total if total else 10
        if self.tty:
            filled = self.WIDTH * done // total if total else self.WIDTH
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            print(f"\rre-encrypting [{bar}] {done}/{total}", end="", file=self.out, flush=True)
        elif tenths != self.shown:
            print(f"re-encrypted {done} of {total} secrets", file=self.out, flush=True)
        self.shown = tenths

    def close(self) -> None:
        if self.tty and self.shown >= 0:
            print(file=self.out)


def rotate_secret_key(*, batch: int) -> None:
    """Seal every stored secret under HEADWATER_SECRET_KEY, reading the others with
    HEADWATER_PREVIOUS_SECRET_KEY, then retire the previous key."""
    bar = _Bar(sys.stdout)
    try:
        done = runtime.run(lambda config: _rotate_secret_key(config, bar, batch))
    finally:
        bar.close()
    print(f"{done.total} secret(s) are sealed under HEADWATER_SECRET_KEY ({done.renewed} renewed).")
    if done.retired:
        print(
            "The previous key is retired: the database no longer accepts it. Remove "
            "HEADWATER_PREVIOUS_SECRET_KEY from every node (and from any file that keeps it) "
            "when convenient; nodes that still have it keep working."
        )
    else:
        print("No rotation was under way: HEADWATER_PREVIOUS_SECRET_KEY is not needed.")


async def _rotate_secret_key(
    config: settings.Settings, progress: rekey.Progress, batch: int
) -> rekey.Rekeyed:
    if batch < 1:
        raise InputError("--batch-size must be 1 or more")
    key = bootstrap.resolve_secret_key(config)
    if config.previous_secret_key == key:
        raise InputError(
            "HEADWATER_PREVIOUS_SECRET_KEY is the same key as HEADWATER_SECRET_KEY: set "
            "HEADWATER_SECRET_KEY to the new key and HEADWATER_PREVIOUS_SECRET_KEY to the old one"
        )
    engine = await _migrated(config)
    try:
        box = await keyring.open_box(engine, key, config.previous_secret_key)
        return await rekey.rotate(engine, box, progress=progress, batch=batch)
    finally:
        await engine.dispose()
