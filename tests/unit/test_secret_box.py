"""Secrets at rest: Fernet under a key derived from HEADWATER_SECRET_KEY; the key file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from headwater import bootstrap
from headwater.errors import ConfigurationError, StorageError
from headwater.settings import Settings
from headwater.storage import secrets


def test_round_trip_and_ciphertext_hides_the_value() -> None:
    box = secrets.SecretBox("a key")
    token = box.seal({"oauth.api.secret": "s3cret"})
    assert "s3cret" not in token
    assert box.open(token) == {"oauth.api.secret": "s3cret"}


def test_another_key_cannot_open() -> None:
    token = secrets.SecretBox("one").seal({"x": 1})
    with pytest.raises(StorageError, match="HEADWATER_SECRET_KEY"):
        secrets.SecretBox("two").open(token)


def test_fingerprint_tells_keys_apart_without_showing_them() -> None:
    assert secrets.fingerprint("one") == secrets.SecretBox("one").fingerprint
    assert secrets.fingerprint("one") != secrets.fingerprint("two")
    assert "one" not in secrets.fingerprint("one")


def test_empty_key_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        secrets.SecretBox("")


def test_key_file_is_created_once_and_private(tmp_path: Path) -> None:
    first = secrets.load_or_create_key_file(tmp_path / "data")
    path = tmp_path / "data" / secrets.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secrets.load_or_create_key_file(tmp_path / "data") == first


def test_secret_key_resolution(tmp_path: Path) -> None:
    given = Settings(database_url="postgresql://x@h/db", secret_key="k" * 20)
    assert bootstrap.resolve_secret_key(given) == "k" * 20
    with pytest.raises(ConfigurationError, match="required with PostgreSQL"):
        bootstrap.resolve_secret_key(Settings(database_url="postgresql://x@h/db"))
    on_sqlite = Settings(database_url=f"sqlite:///{tmp_path}/h.db", data_dir=tmp_path)
    key = bootstrap.resolve_secret_key(on_sqlite)
    assert (tmp_path / secrets.KEY_FILE).read_text().strip() == key
