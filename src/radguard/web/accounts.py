"""Console accounts: argon2id password hashes (RFC 9106), roles, ``radguard web adduser``.

45 CFR 164.312(a)(2)(i) unique user identification and 164.312(d) person authentication.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from radguard.store import Store
from radguard.store.console import ROLES, WebUser, add_user

#: the shortest password accepted for a console account
MIN_PASSWORD = 12


@cache
def hasher() -> PasswordHasher:
    """argon2id with argon2-cffi's RFC 9106 low-memory profile (t=3, m=64 MiB, p=4)."""
    return PasswordHasher(type=Type.ID)


@cache
def _dummy_hash() -> str:
    return hasher().hash("radguard-no-such-user")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (``ValueError`` if it is too short)."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a console password needs at least {MIN_PASSWORD} characters")
    return hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; an unknown user costs the same time as a wrong password."""
    try:
        return hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def role_at_least(role: str, needed: str) -> bool:
    """``admin`` ⊇ ``operator`` ⊇ ``viewer``."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def valid_name(name: str) -> bool:
    return 0 < len(name) <= 64 and all(c.isalnum() or c in "._-@" for c in name)


def create_user(store: Store, name: str, role: str, password: str) -> WebUser:
    """Create an account; ``ValueError`` with a message for people if anything is wrong."""
    if not valid_name(name):
        raise ValueError("a user name is 1-64 letters, digits or . _ - @")
    return add_user(store, name, role, hash_password(password))
