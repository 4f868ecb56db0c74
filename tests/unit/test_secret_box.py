"""Secrets at rest: Fernet under a key scrypt derives from HEADWATER_SECRET_KEY; the key file;
files readable by their owner only."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from headwater import bootstrap
from headwater.errors import ConfigurationError, StorageError
from headwater.settings import Settings
from headwater.storage import files, secrets

# a cheap cost keeps unit tests fast; the server's cost is checked in the integration tests
CHEAP = secrets.Derivation(salt=b"0123456789abcdef", n=2**10)


def box(key: str, derivation: secrets.Derivation = CHEAP) -> secrets.SecretBox:
    return secrets.SecretBox.derived(key, derivation)


def test_round_trip_and_ciphertext_hides_the_value() -> None:
    token = box("a key").seal({"oauth.api.secret": "s3cret"})
    assert "s3cret" not in token
    assert box("a key").open(token) == {"oauth.api.secret": "s3cret"}


def test_another_key_or_salt_cannot_open() -> None:
    token = box("one").seal({"x": 1})
    with pytest.raises(StorageError, match="HEADWATER_SECRET_KEY"):
        box("two").open(token)
    with pytest.raises(StorageError):
        box("one", secrets.Derivation(salt=b"another salt 016", n=2**10)).open(token)


def test_fingerprint_tells_keys_and_salts_apart_without_showing_them() -> None:
    assert box("one").fingerprint == box("one").fingerprint
    assert box("one").fingerprint != box("two").fingerprint
    other_salt = secrets.Derivation(salt=b"another salt 016", n=2**10)
    assert box("one").fingerprint != box("one", other_salt).fingerprint
    assert "one" not in box("one").fingerprint
    assert box("one").fingerprint != secrets.legacy_fingerprint("one")


def test_a_new_derivation_has_a_random_salt_and_the_server_cost() -> None:
    first, second = secrets.Derivation.new(), secrets.Derivation.new()
    assert first.salt != second.salt and len(first.salt) == 16
    assert (first.n, first.r, first.p) == (2**15, 8, 1)


def test_the_stored_record_round_trips_and_a_bad_one_is_named() -> None:
    record = CHEAP.record("abc")
    assert secrets.Derivation.read(record) == (CHEAP, "abc")
    assert "0123456789abcdef" not in record  # the salt is stored encoded
    for bad in ("{", "{}", json.dumps({**json.loads(record), "kdf": "md5"})):
        with pytest.raises(ConfigurationError, match=secrets.DERIVATION_KEY):
            secrets.Derivation.read(bad)


def test_a_legacy_token_is_resealed_under_the_derived_key() -> None:
    legacy = secrets.SecretBox.legacy("one")
    old = legacy.seal({"x": 1})
    new = box("one").reseal(old, legacy)
    assert box("one").open(new) == {"x": 1}
    with pytest.raises(StorageError):
        legacy.open(new)
    with pytest.raises(StorageError):
        box("one").reseal(box("two").seal({"x": 1}), legacy)


def test_empty_key_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        box("")
    with pytest.raises(ConfigurationError):
        secrets.SecretBox.legacy("")


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
