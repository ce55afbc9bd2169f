"""Password hashing with argon2id, off the event loop (hashing is deliberately slow)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        # argon2-cffi's default is RFC 9106's low-memory argon2id profile (t=3, m=64 MiB, p=4).
        self._hasher = hasher or PasswordHasher(type=Type.ID)
        # Verified when an email is unknown, so that a miss costs as long as a wrong password.
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; a missing hash still spends one verification."""
        if stored_hash is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self.hash("parley-dummy-password")
            stored_hash = self._dummy_hash
            await asyncio.to_thread(self._verify, stored_hash, password)
            return False
        return await asyncio.to_thread(self._verify, stored_hash, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
