from __future__ import annotations

import json

import pytest

from voice_server.json_nesting import NestingGuard, TooDeep


def feed_all(body: bytes, *, limit: int, chunk: int) -> NestingGuard:
    guard = NestingGuard(limit)
    for start in range(0, len(body), chunk):
        guard.feed(body[start : start + chunk])
    return guard


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 4096])
def test_ordinary_json_passes_in_any_chunking(chunk: int) -> None:
    body = json.dumps(
        {"a": [1, {"b": 'x[{"]}\\'}], "c": {"d": {"e": []}}, "s": "\\\\[[[[", "t": '\\"['}
    ).encode()
    guard = feed_all(body, limit=4, chunk=chunk)
    assert guard.depth == 0


@pytest.mark.parametrize("chunk", [1, 5, 65536])
def test_deep_nesting_is_refused_at_the_first_level_too_deep(chunk: int) -> None:
    body = b"[" * 50_000 + b"]" * 50_000
    with pytest.raises(TooDeep, match="64 levels") as raised:
        feed_all(body, limit=64, chunk=chunk)
    assert raised.value.limit == 64


def test_brackets_inside_strings_do_not_count() -> None:
    body = json.dumps({"text": "[" * 10_000}).encode()
    assert feed_all(body, limit=2, chunk=100).depth == 0


def test_an_escaped_quote_split_across_chunks_keeps_the_string_open() -> None:
    guard = NestingGuard(1)
    guard.feed(b'{"k": "a\\')
    guard.feed(b'"[[[[[[ still a string"}')
    assert guard.depth == 0


def test_objects_count_like_arrays() -> None:
    with pytest.raises(TooDeep):
        feed_all(b'{"a":' * 10 + b"1" + b"}" * 10, limit=9, chunk=3)
