from __future__ import annotations

import pytest

from dashboard_api.origins import normalise_origin, origin_allowed


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("https://Shop.Example", "https://shop.example"),
        ("https://shop.example/", "https://shop.example"),
        ("http://localhost:5173", "http://localhost:5173"),
        ("  https://shop.example:8443 ", "https://shop.example:8443"),
    ],
)
def test_origins_are_normalised(text: str, origin: str) -> None:
    assert normalise_origin(text) == origin


@pytest.mark.parametrize(
    "text",
    [
        "shop.example",
        "ftp://shop.example",
        "https://*.shop.example",
        "https://shop.example/page",
        "https://user@shop.example",
        "https://shop.example?x=1",
        "https://shop.example:99999",
    ],
)
def test_non_origins_are_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is checked by the API tests
        normalise_origin(text)


def test_origin_must_match_exactly() -> None:
    allowed = ["https://shop.example"]
    assert origin_allowed("https://shop.example", allowed)
    assert not origin_allowed("https://shop.example.evil.test", allowed)
    assert not origin_allowed("http://shop.example", allowed)
    assert not origin_allowed("https://www.shop.example", allowed)
    assert not origin_allowed(None, allowed)
    assert not origin_allowed("null", allowed)


def test_localhost_only_with_the_development_flag() -> None:
    allowed = ["https://shop.example"]
    assert not origin_allowed("http://localhost:5173", allowed)
    assert origin_allowed("http://localhost:5173", allowed, allow_localhost=True)
    assert origin_allowed("http://127.0.0.1:8080", allowed, allow_localhost=True)
    assert not origin_allowed("http://localhost.evil.test", allowed, allow_localhost=True)
