"""API key format and hashing (pure: no I/O).

Secret keys ``psk_<prefix>_<secret>`` are for servers; publishable widget keys
``ppk_<prefix>_<secret>`` are for browsers, bound to one bot and a list of origins. The prefix
(``psk_<prefix>``) is stored in clear and shown to owners; the key itself is shown once and only
its SHA-256 is kept. A plain hash is enough here: the secret part carries ~238 random bits, so
there is nothing to brute-force, and lookups stay one indexed query.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from typing import Literal

KeyKind = Literal["secret", "publishable"]

KIND_TAGS: dict[KeyKind, str] = {"secret": "psk", "publishable": "ppk"}
_KINDS_BY_TAG = {tag: kind for kind, tag in KIND_TAGS.items()}

PREFIX_LENGTH = 12
SECRET_LENGTH = 40
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
_KEY_PATTERN = re.compile(
    rf"^(psk|ppk)_([a-z0-9]{{{PREFIX_LENGTH}}})_([A-Za-z0-9]{{{SECRET_LENGTH}}})$"
)

# What a key may do. Secret keys get every server scope unless created with fewer; publishable
# keys only talk to their bot and leave feedback.
SECRET_SCOPES: tuple[str, ...] = (
    "bots:read",
    "bots:write",
    "documents:read",
    "documents:write",
    "conversations:read",
    "conversations:write",
    "analytics:read",
    "chat",
)
PUBLISHABLE_SCOPES: tuple[str, ...] = ("chat", "feedback")


@dataclass(frozen=True)
class NewKey:
    kind: KeyKind
    key: str  # shown to the owner once, never stored
    prefix: str  # e.g. "psk_k3x9a0c2m4qz", stored and shown
    key_hash: bytes


@dataclass(frozen=True)
class ParsedKey:
    kind: KeyKind
    prefix: str
    key: str


def generate_key(kind: KeyKind) -> NewKey:
    tag = KIND_TAGS[kind]
    prefix = tag + "_" + "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    key = f"{prefix}_{secret}"
    return NewKey(kind=kind, key=key, prefix=prefix, key_hash=hash_key(key))


def parse_key(text: str) -> ParsedKey | None:
    """The key's kind and stored prefix, or None when ``text`` is not shaped like a key."""
    match = _KEY_PATTERN.fullmatch(text)
    if match is None:
        return None
    tag, body, _ = match.groups()
    return ParsedKey(kind=_KINDS_BY_TAG[tag], prefix=f"{tag}_{body}", key=text)


def looks_like_key(text: str) -> bool:
    return text.startswith(("psk_", "ppk_"))


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode("ascii")).digest()


def key_matches(key: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_key(key), stored_hash)
