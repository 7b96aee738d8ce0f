"""Password and PIN hashing with argon2id; constant-time verification."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# PINs are short, so their strength comes from rate limiting; a lighter hash keeps kiosk sign-in
# quick on a small device while still never storing the PIN itself.
_pin_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def hash_pin(pin: str) -> str:
    return _pin_hasher.hash(pin)


def verify_pin(stored_hash: str | None, pin: str) -> bool:
    if not stored_hash:
        return False
    try:
        return _pin_hasher.verify(stored_hash, pin)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
