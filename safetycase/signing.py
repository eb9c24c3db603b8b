"""The server's Ed25519 key that signs versions, kept in a file outside the database.

The key file (setting VERSION_SIGNING_KEY_FILE, by default `version-signing-key` in the var
directory) holds one line: `ed25519-private-key <64 hex digits>`. `manage.py
create_signing_key` (run by `make run`) writes it with mode 0600; the first sign-off on a
server without one creates it, so a fresh install works, and `verify_versions` then reports
any version signed with another key. Someone who can write the database but not read this
file cannot make a signature that verifies (see the README's threat model).

Ed25519 itself comes from the `cryptography` package (OpenSSL's implementation).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings

from safetycase.errors import ApplicationError

KEY_PREFIX = "ed25519-private-key"


class SigningKeyError(ApplicationError):
    """The key file is missing or unreadable."""


def key_file() -> Path:
    configured = getattr(settings, "VERSION_SIGNING_KEY_FILE", "")
    return Path(configured) if configured else Path(settings.VAR_DIR) / "version-signing-key"


def create_key(path: Path | None = None, *, replace: bool = False) -> Path:
    """Write a new random key; refuses to replace an existing one unless told to."""
    path = path or key_file()
    if path.exists() and not replace:
        raise SigningKeyError(f"{path} already exists; a new key would not verify old versions.")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(f"{KEY_PREFIX} {secrets.token_bytes(32).hex()}\n")
    return path


def _private_key(*, create: bool) -> bytes:
    path = key_file()
    if not path.exists():
        if not create:
            raise SigningKeyError(
                f"The version-signing key file {path} does not exist; versions cannot be "
                "verified without the key that signed them."
            )
        create_key(path)
    words = path.read_text(encoding="ascii").split()
    if len(words) != 2 or words[0] != KEY_PREFIX or len(words[1]) != 64:
        raise SigningKeyError(f"{path} is not a version-signing key file.")
    try:
        return bytes.fromhex(words[1])
    except ValueError as exc:
        raise SigningKeyError(f"{path} is not a version-signing key file.") from exc


def public_key(private: bytes) -> bytes:
    """The raw 32-byte public key of a raw 32-byte private key (RFC 8032 seed)."""
    key = Ed25519PrivateKey.from_private_bytes(private).public_key()
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def sign(private: bytes, message: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(private).sign(message)


def verify(public: bytes, message: bytes, signature_hex: str) -> bool:
    try:
        signature = bytes.fromhex(signature_hex)
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def key_id_of(public: bytes) -> str:
    """The public key's id: the first 16 hex digits of its sha256."""
    return hashlib.sha256(public).hexdigest()[:16]


class ServerKey:
    """The loaded key: `sign` for new versions, `verify` for verify_versions."""

    def __init__(self, *, create: bool = False):
        self._private = _private_key(create=create)
        self.public = public_key(self._private)
        self.key_id = key_id_of(self.public)

    def sign(self, message: bytes) -> str:
        return sign(self._private, message).hex()

    def verify(self, message: bytes, signature_hex: str) -> bool:
        return verify(self.public, message, signature_hex)
