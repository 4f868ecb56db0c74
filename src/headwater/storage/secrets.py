"""Secrets at rest: a Fernet box keyed through scrypt from ``HEADWATER_SECRET_KEY``, and the check
that pins a database to one key.

The database keeps (in ``server_meta``) how the key is derived: the KDF, its cost, a random salt,
and a check value derived along with the Fernet key, never the key itself. A process started with
another key derives another check and refuses to run rather than write secrets no other node can
read.

Why scrypt: the key may be a phrase a person chose, and nothing tells a guessable key from a
random one, so every key is derived as if it were guessable: an offline guess against a stolen
database costs one scrypt (32 MiB, about 0.1 s), not one SHA-256. The cost is paid once per
process start. (HKDF would do for a key known to be random, such as the one generated into the
data folder, but a user may write any text there too.) One derivation gives 64 bytes: the first
32 key Fernet, the last 32 are the check.

During a key rotation a box also opens what the previous key sealed (:meth:`SecretBox.reading`)
while it seals with its own; :mod:`headwater.storage.keyring` decides which keys a process gets.

Databases set up before this kept a plain SHA-256 fingerprint of the key and sealed secrets under
a SHA-256 of it. The first start with the right key re-seals every secret under the derived key,
stores the salt and check and drops the old fingerprint, all in one transaction.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from headwater.errors import ConfigurationError, StorageError
from headwater.storage import files

DERIVATION_KEY = "secret_key_derivation"
LEGACY_FINGERPRINT_KEY = "secret_key_fingerprint"
# the derivation of the key a rotation moves secrets from, while some may be sealed by it
PREVIOUS_DERIVATION_KEY = "secret_key_previous_derivation"
KEY_FILE = ".secret-key"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SALT_BYTES = 16


@dataclasses.dataclass(frozen=True)
class Derivation:
    """How the Fernet key and the check are derived from the secret key: scrypt's cost and salt."""

    salt: bytes
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P

    @classmethod
    def new(cls) -> Derivation:
        """A derivation with a fresh random salt and today's cost."""
        return cls(salt=os.urandom(SALT_BYTES))

    def derive(self, key: str) -> bytes:
        """64 bytes: the Fernet key, then the check."""
        return Scrypt(salt=self.salt, length=64, n=self.n, r=self.r, p=self.p).derive(key.encode())

    def record(self, check: str) -> str:
        """What ``server_meta`` keeps: the parameters and the check, as JSON."""
        salt = base64.b64encode(self.salt).decode()
        fields = {"kdf": "scrypt", "n": self.n, "r": self.r, "p": self.p, "salt": salt}
        return json.dumps({**fields, "check": check}, sort_keys=True)

    @classmethod
    def read(cls, record: str) -> tuple[Derivation, str]:
        """The derivation and the check of a stored record; ConfigurationError when unreadable."""
        try:
            fields = json.loads(record)
            if fields["kdf"] != "scrypt":
                raise ValueError(f"unknown key derivation {fields['kdf']!r}")
            found = cls(
                salt=base64.b64decode(fields["salt"], validate=True),
                n=int(fields["n"]),
                r=int(fields["r"]),
                p=int(fields["p"]),
            )
            return found, str(fields["check"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"the database's {DERIVATION_KEY} record is unreadable ({exc})"
            ) from None


def legacy_fingerprint(key: str) -> str:
    """The fingerprint databases kept before key derivation (a plain SHA-256)."""
    return hashlib.sha256(b"headwater-secret-key-fingerprint:" + key.encode()).hexdigest()


class SecretBox:
    """Encrypts and decrypts JSON objects with a Fernet key derived from the server's secret key.

    ``fingerprint`` is the check stored in the database: equal for equal keys and salts only.
    """

    def __init__(
        self, fernet_key: bytes, fingerprint: str, readers: Sequence[SecretBox] = ()
    ) -> None:
        self._key = fernet_key
        self._older = tuple(readers)
        self._fernet = Fernet(base64.urlsafe_b64encode(fernet_key))
        # what opens a token: this key, then the older keys of a rotation in progress
        self._readers = MultiFernet([self._fernet, *(box._fernet for box in readers)])
        self.fingerprint = fingerprint
        # keys for other purposes come from the same derived material, never equal to it
        self._subkeys = hmac.new(fernet_key, b"headwater-subkeys", hashlib.sha256).digest()

    def reading(self, *older: SecretBox) -> SecretBox:
        """This box, also opening what ``older`` boxes sealed (it still seals with its own key)."""
        return SecretBox(self._key, self.fingerprint, older)

    def sealed_by_me(self, token: str) -> bool:
        """Whether ``token`` opens with this box's own key (not only with an older one)."""
        try:
            self._fernet.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def renew(self, token: str) -> str:
        """``token`` sealed again with this box's own key (it may have been sealed by an older
        key this box reads); StorageError when no key of this box opens it."""
        try:
            return self._readers.rotate(token.encode()).decode()
        except InvalidToken:
            raise StorageError(_UNREADABLE) from None

    @classmethod
    def derived(cls, key: str, derivation: Derivation) -> SecretBox:
        """The box of ``key`` under ``derivation`` (about 0.1 s of scrypt)."""
        _require(key)
        material = derivation.derive(key)
        return cls(material[:32], material[32:].hex())

    @classmethod
    def legacy(cls, key: str) -> SecretBox:
        """The box of a database set up before key derivation; only to read and re-seal."""
        _require(key)
        return cls(hashlib.sha256(b"headwater-fernet:" + key.encode()).digest(), "")

    def subkey(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (e.g. signing the UI's cookies), derived from this box's
        key: as hard to guess as the secrets it seals, and another for every purpose."""
        return hmac.new(self._subkeys, purpose.encode(), hashlib.sha256).digest()

    def older_subkeys(self, purpose: str) -> list[bytes]:
        """The :meth:`subkey` of each older key this box reads (during a key rotation), to accept
        what was signed before it."""
        return [box.subkey(purpose) for box in self._older]

    def seal(self, value: dict[str, Any]) -> str:
        """The Fernet token of ``value`` as JSON."""
        return self._fernet.encrypt(json.dumps(value, sort_keys=True).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        """The object sealed in ``token``; raises StorageError when another key sealed it."""
        return cast(dict[str, Any], json.loads(self._decrypt(token)))

    def reseal(self, token: str, sealed_by: SecretBox) -> str:
        """``token`` of ``sealed_by`` sealed again by this box, byte for byte."""
        return self._fernet.encrypt(sealed_by._decrypt(token)).decode()

    def _decrypt(self, token: str) -> bytes:
        try:
            return self._readers.decrypt(token.encode())
        except InvalidToken:
            raise StorageError(_UNREADABLE) from None


_UNREADABLE = "a stored secret cannot be decrypted: was HEADWATER_SECRET_KEY changed?"


def _require(key: str) -> None:
    if not key:
        raise ConfigurationError("HEADWATER_SECRET_KEY is empty")


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
