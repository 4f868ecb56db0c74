"""Secrets at rest: Fernet under a key derived from HEADWATER_SECRET_KEY; the key file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from headwater import bootstrap
from headwater.errors import ConfigurationError, StorageError
from headwater.settings import Settings
from headwater.storage import files, secrets


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


def test_folders_and_files_are_created_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        files.private_file(tmp_path / "a" / "b" / "headwater.db")
    finally:
        os.umask(previous)
    for folder in (tmp_path / "a", tmp_path / "a" / "b"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "b" / "headwater.db").stat().st_mode) == 0o600


def test_existing_folders_and_files_keep_their_mode(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir(mode=0o750)
    os.chmod(tmp_path / "shared", 0o750)
    (tmp_path / "shared" / "h.db").write_text("")
    os.chmod(tmp_path / "shared" / "h.db", 0o640)
    files.private_file(tmp_path / "shared" / "h.db")
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "shared" / "h.db").stat().st_mode) == 0o640
