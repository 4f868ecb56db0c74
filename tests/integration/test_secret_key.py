"""The secret key: derived through scrypt with a salt kept in the database, which it pins to one
key; SQLite generates one when absent; databases of the SHA-256 era open and are upgraded."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from headwater import bootstrap
from headwater.errors import ConfigurationError
from headwater.settings import Settings
from headwater.storage import db, instances, keyring, secrets, tables, tenants
from tests import databases

KEY = "the-first-key-0001"


async def _meta(url: str) -> dict[str, str]:
    engine = db.make_engine(url)
    try:
        async with db.reading(engine) as conn:
            rows = await conn.execute(sa.select(tables.server_meta))
            return {row.key: row.value for row in rows}
    finally:
        await engine.dispose()


async def test_another_key_refuses_to_start(db_url: str, tmp_path: Path) -> None:
    first = Settings(database_url=db_url, data_dir=tmp_path, secret_key=KEY)
    async with bootstrap.container(first, loops=False):
        pass
    async with bootstrap.container(first, loops=False):
        pass  # the same key starts again
    other = Settings(database_url=db_url, data_dir=tmp_path, secret_key="another-key-00002")
    with pytest.raises(ConfigurationError, match="differs from the key"):
        async with bootstrap.container(other, loops=False):
            pass


async def test_the_stored_check_is_a_salted_scrypt_not_a_fast_hash(
    db_url: str, tmp_path: Path
) -> None:
    async with bootstrap.container(
        Settings(database_url=db_url, data_dir=tmp_path, secret_key=KEY), loops=False
    ) as c:
        fingerprint = c.secrets.fingerprint
    stored = await _meta(db_url)
    assert secrets.LEGACY_FINGERPRINT_KEY not in stored
    record = json.loads(stored[secrets.DERIVATION_KEY])
    assert record["kdf"] == "scrypt" and record["n"] >= 2**15 and record["r"] >= 8
    salt = base64.b64decode(record["salt"])
    assert len(salt) >= 16
    assert KEY not in stored[secrets.DERIVATION_KEY]
    check = record["check"]
    assert check == fingerprint
    expected = Scrypt(salt=salt, length=64, n=record["n"], r=record["r"], p=record["p"])
    assert check == expected.derive(KEY.encode())[32:].hex()
    fast = {
        hashlib.sha256(KEY.encode()).hexdigest(),
        hashlib.sha256(b"headwater-secret-key-fingerprint:" + KEY.encode()).hexdigest(),
        hashlib.sha256(salt + KEY.encode()).hexdigest(),
        hashlib.sha256(KEY.encode() + salt).hexdigest(),
    }
    assert check not in fast
    # the same key in another database: another salt, another check
    other_url = await databases.fresh_sqlite(tmp_path / "other")
    async with bootstrap.container(
        Settings(database_url=other_url, data_dir=tmp_path, secret_key=KEY), loops=False
    ) as c:
        assert c.secrets.fingerprint != check


async def test_key_absent(db_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=db_url, data_dir=tmp_path / "data")
    if not settings.is_sqlite:
        with pytest.raises(ConfigurationError, match="HEADWATER_SECRET_KEY is required"):
            async with bootstrap.container(settings, loops=False):
                pass
        return
    async with bootstrap.container(settings, loops=False) as c:
        key = (tmp_path / "data" / secrets.KEY_FILE).read_text().strip()
        sealed = c.secrets.seal({"x": 1})
    async with bootstrap.container(settings, loops=False) as c:
        assert c.secrets.open(sealed) == {"x": 1}
    given = Settings(database_url=db_url, data_dir=tmp_path / "elsewhere", secret_key=key)
    async with bootstrap.container(given, loops=False) as c:
        assert c.secrets.open(sealed) == {"x": 1}


async def test_unmigrated_database_is_named(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/empty.db", data_dir=tmp_path, secret_key="k" * 16
    )
    with pytest.raises(ConfigurationError, match="headwater db upgrade"):
        async with bootstrap.container(settings, loops=False):
            pass


# -- a database written before key derivation ---------------------------------------------------


def _old_fernet(key: str) -> Fernet:
    """How the Fernet key was made before key derivation: one SHA-256 of the key."""
    digest = hashlib.sha256(b"headwater-fernet:" + key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _old_seal(key: str, value: dict[str, Any]) -> str:
    return _old_fernet(key).encrypt(json.dumps(value, sort_keys=True).encode()).decode()


SECRETS = {"oauth.api.secret": "s3cret", "event.notification.signature.key": "k" * 20}
TOKENS = {"access_token": "at-1", "refresh_token": "rt-1"}


async def _write_old_database(url: str, key: str) -> tuple[tenants.Principal, list[int]]:
    """The rows the old code wrote: its fingerprint, and instances sealed the old way."""
    engine = db.make_engine(url)
    now = dt.datetime.now(dt.UTC)
    try:
        async with db.transaction(engine) as conn:
            old = hashlib.sha256(b"headwater-secret-key-fingerprint:" + key.encode()).hexdigest()
            await conn.execute(
                sa.insert(tables.server_meta).values(key="secret_key_fingerprint", value=old)
            )
            tenant = await tenants.create(conn, organization_name="Old", now=now)
            ids = [
                await instances.insert(
                    conn,
                    instances.NewInstance(
                        organization_id=tenant.organization_id,
                        user_id=tenant.user_id,
                        element_key="acton",
                        name=f"old {n}",
                        tags=[],
                        token_hash=f"{n:064x}",
                        configuration={"event.notification.enabled": False},
                        secrets=_old_seal(key, SECRETS),
                        provider_tokens=_old_seal(key, TOKENS) if n == 0 else None,
                        token_expires_at=None,
                        valid=True,
                        invalid_reason=None,
                        disabled=False,
                        events_enabled=False,
                        subscription_active=True,
                        created_at=now,
                        updated_at=now,
                    ),
                )
                for n in range(2)
            ]
    finally:
        await engine.dispose()
    return tenants.Principal(tenant.organization_id, tenant.user_id), ids


async def _instance_rows(url: str) -> list[Any]:
    engine = db.make_engine(url)
    try:
        async with db.reading(engine) as conn:
            query = sa.select(tables.instances).order_by(tables.instances.c.id)
            return list((await conn.execute(query)).all())
    finally:
        await engine.dispose()


async def test_a_database_of_the_old_format_opens_decrypts_and_is_upgraded(
    db_url: str, tmp_path: Path
) -> None:
    principal, ids = await _write_old_database(db_url, KEY)
    before = await _instance_rows(db_url)

    wrong = Settings(database_url=db_url, data_dir=tmp_path, secret_key="not-the-old-key-01")
    with pytest.raises(ConfigurationError, match="differs from the key"):
        async with bootstrap.container(wrong, loops=False):
            pass
    assert await _instance_rows(db_url) == before  # refused before anything was touched
    assert set(await _meta(db_url)) == {"secret_key_fingerprint"}

    right = Settings(database_url=db_url, data_dir=tmp_path, secret_key=KEY)
    async with bootstrap.container(right, loops=False) as c:
        shown = await c.instances.get(principal, ids[0])
        assert shown.configuration["oauth.api.secret"] == "********"
        after = await _instance_rows(db_url)
        for old_row, row in zip(before, after, strict=True):
            assert row.secrets != old_row.secrets
            assert c.secrets.open(row.secrets) == SECRETS
            with pytest.raises(InvalidToken):
                _old_fernet(KEY).decrypt(row.secrets.encode())
        assert c.secrets.open(after[0].provider_tokens) == TOKENS
        assert after[1].provider_tokens is None
    stored = await _meta(db_url)
    assert secrets.LEGACY_FINGERPRINT_KEY not in stored
    assert json.loads(stored[secrets.DERIVATION_KEY])["kdf"] == "scrypt"

    async with bootstrap.container(right, loops=False) as c:  # upgraded once, opens as new
        assert c.secrets.open((await _instance_rows(db_url))[0].secrets) == SECRETS
    with pytest.raises(ConfigurationError, match="differs from the key"):
        async with bootstrap.container(wrong, loops=False):
            pass


@pytest.mark.parametrize("old_format", [False, True], ids=["new", "old-format"])
async def test_processes_starting_together_agree_on_one_derivation(
    db_url: str, old_format: bool
) -> None:
    if old_format:
        await _write_old_database(db_url, KEY)
    engines = [db.make_engine(db_url) for _ in range(3)]
    try:
        boxes = await asyncio.gather(*(keyring.open_box(e, KEY) for e in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert len({box.fingerprint for box in boxes}) == 1
    record = json.loads((await _meta(db_url))[secrets.DERIVATION_KEY])
    assert record["check"] == boxes[0].fingerprint
    for row in await _instance_rows(db_url):
        assert all(box.open(row.secrets) == SECRETS for box in boxes)
