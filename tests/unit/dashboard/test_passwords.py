from __future__ import annotations

from argon2 import PasswordHasher, Type

from dashboard_api.passwords import Passwords


def _passwords() -> Passwords:
    return Passwords(PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1, type=Type.ID))


async def test_passwords_are_stored_as_argon2id_and_verify() -> None:
    passwords = _passwords()
    stored = await passwords.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert await passwords.verify(stored, "correct horse battery staple")
    assert not await passwords.verify(stored, "wrong password")


async def test_missing_hash_never_verifies() -> None:
    assert not await _passwords().verify(None, "anything")


async def test_garbage_hash_never_verifies() -> None:
    assert not await _passwords().verify("not-a-hash", "anything")


async def test_weak_parameters_ask_for_a_rehash_under_the_default_profile() -> None:
    weak = await _passwords().hash("pw-123456789")
    assert Passwords().needs_rehash(weak)
