from __future__ import annotations

import pytest

from dashboard_api.keys import generate_key, hash_key, key_matches, parse_key


@pytest.mark.parametrize(("kind", "tag"), [("secret", "psk"), ("publishable", "ppk")])
def test_generated_keys_have_a_visible_prefix_and_parse_back(kind: str, tag: str) -> None:
    new = generate_key(kind)  # type: ignore[arg-type]
    assert new.key.startswith(new.prefix + "_")
    assert new.prefix.startswith(tag + "_")
    parsed = parse_key(new.key)
    assert parsed is not None
    assert (parsed.kind, parsed.prefix) == (kind, new.prefix)


def test_only_the_hash_identifies_the_key() -> None:
    new = generate_key("secret")
    assert new.key.encode() not in new.key_hash
    assert key_matches(new.key, new.key_hash)
    other = generate_key("secret")
    assert not key_matches(other.key, new.key_hash)
    # Same prefix, another secret: refused.
    forged = new.prefix + "_" + other.key.rsplit("_", 1)[1]
    assert not key_matches(forged, new.key_hash)
    assert hash_key(new.key) == new.key_hash


def test_keys_are_unique() -> None:
    keys = {generate_key("publishable").key for _ in range(200)}
    assert len(keys) == 200


@pytest.mark.parametrize(
    "text",
    [
        "",
        "psk_",
        "psk_short_secret",
        "xsk_abcdefghijkl_" + "a" * 40,
        "psk_ABCDEFGHIJKL_" + "a" * 40,  # prefix is lower case
        "psk_abcdefghijkl_" + "a" * 39,
        "psk_abcdefghijkl_" + "a" * 40 + "\n",
        "psk_abcdefghijkl_" + "a" * 39 + "-",
    ],
)
def test_malformed_keys_do_not_parse(text: str) -> None:
    assert parse_key(text) is None
