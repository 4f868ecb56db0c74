"""The secret key: its fingerprint pins a database to one key; SQLite generates one when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater import bootstrap
from headwater.errors import ConfigurationError
from headwater.settings import Settings
from headwater.storage import secrets


async def test_another_key_refuses_to_start(db_url: str, tmp_path: Path) -> None:
    first = Settings(database_url=db_url, data_dir=tmp_path, secret_key="the-first-key-0001")
    async with bootstrap.container(first, loops=False) as c:
        assert c.secrets.fingerprint == secrets.fingerprint("the-first-key-0001")
    async with bootstrap.container(first, loops=False):
        pass  # the same key starts again
    other = Settings(database_url=db_url, data_dir=tmp_path, secret_key="another-key-00002")
    with pytest.raises(ConfigurationError, match="differs from the key"):
        async with bootstrap.container(other, loops=False):
            pass


async def test_key_absent(db_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=db_url, data_dir=tmp_path / "data")
    if not settings.is_sqlite:
        with pytest.raises(ConfigurationError, match="HEADWATER_SECRET_KEY is required"):
            async with bootstrap.container(settings, loops=False):
                pass
        return
    async with bootstrap.container(settings, loops=False) as c:
        key = (tmp_path / "data" / secrets.KEY_FILE).read_text().strip()
        assert c.secrets.fingerprint == secrets.fingerprint(key)
    async with bootstrap.container(settings, loops=False) as c:
        assert c.secrets.fingerprint == secrets.fingerprint(key)


async def test_unmigrated_database_is_named(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/empty.db", data_dir=tmp_path, secret_key="k" * 16
    )
    with pytest.raises(ConfigurationError, match="headwater db upgrade"):
        async with bootstrap.container(settings, loops=False):
            pass
