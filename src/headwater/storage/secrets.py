"""Secrets at rest: a Fernet box keyed by ``HEADWATER_SECRET_KEY``, and the key's fingerprint.

Any string is accepted as the key; the Fernet key is derived from it, so a key copied between
nodes only has to match byte for byte. The database keeps a fingerprint of the key (never the
key): a process started with another key refuses to run rather than write secrets no other node
can read.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.ext.asyncio import AsyncEngine

from headwater.errors import ConfigurationError, StorageError
from headwater.storage import db, files, tables

FINGERPRINT_KEY = "secret_key_fingerprint"
KEY_FILE = ".secret-key"


def fingerprint(key: str) -> str:
    """A one-way fingerprint of ``key``: tells keys apart without revealing them."""
    return hashlib.sha256(b"headwater-secret-key-fingerprint:" + key.encode()).hexdigest()


class SecretBox:
    """Encrypts and decrypts JSON objects with a key derived from the server's secret key."""

    def __init__(self, key: str) -> None:
        if not key:
            raise ConfigurationError("HEADWATER_SECRET_KEY is empty")
        derived = hashlib.sha256(b"headwater-fernet:" + key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))
        self.fingerprint = fingerprint(key)

    def seal(self, value: dict[str, Any]) -> str:
        """The Fernet token of ``value`` as JSON."""
        return self._fernet.encrypt(json.dumps(value, sort_keys=True).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        """The object sealed in ``token``; raises StorageError when another key sealed it."""
        try:
            plain = self._fernet.decrypt(token.encode())
        except InvalidToken:
            raise StorageError(
                "a stored secret cannot be decrypted: was HEADWATER_SECRET_KEY changed?"
            ) from None
        return cast(dict[str, Any], json.loads(plain))


def load_or_create_key_file(folder: Path) -> str:
    """The key kept in ``folder/.secret-key``, created (readable by its owner only) when absent."""
    path = folder / KEY_FILE
    if path.exists():
        key = path.read_text().strip()
        if not key:
            raise ConfigurationError(f"{path} is empty; remove it or set HEADWATER_SECRET_KEY")
        return key
    files.private_folder(folder)
    key = Fernet.generate_key().decode()
    # O_EXCL: two processes starting at once agree on the first key written
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create_key_file(folder)
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    return key


async def check_fingerprint(engine: AsyncEngine, box: SecretBox) -> None:
    """Record the key's fingerprint on first use; refuse a key that differs from it later."""
    try:
        async with db.transaction(engine) as conn:
            stored = await conn.scalar(
                sa.select(tables.server_meta.c.value).where(
                    tables.server_meta.c.key == FINGERPRINT_KEY
                )
            )
            if stored is None:
                await conn.execute(
                    sa.insert(tables.server_meta).values(key=FINGERPRINT_KEY, value=box.fingerprint)
                )
                return
    except StorageError as error:
        raise ConfigurationError(
            f"the database is not ready ({error}); run `headwater db upgrade`"
        ) from error
    if stored != box.fingerprint:
        raise ConfigurationError(
            "HEADWATER_SECRET_KEY differs from the key this database was set up with; "
            "start with the same key as the other nodes"
        )
