"""Password and API-token hashing."""
from __future__ import annotations

import hashlib
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """Argon2id hash of a password, salted."""
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches the stored hash. Without a hash (no such user) a dummy
    one is checked, so that an unknown username takes as long as a wrong password."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def new_token() -> tuple[str, str]:
    """A fresh API token and the hash to store (tokens are random, so SHA-256 suffices)."""
    token = "ann_" + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
