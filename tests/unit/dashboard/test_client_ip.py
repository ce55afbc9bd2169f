from __future__ import annotations

import pytest

from dashboard_api.client_ip import client_ip, parse_networks

PROXIES = parse_networks("10.0.0.0/8, 127.0.0.1")


def test_forwarded_for_is_ignored_from_untrusted_peers() -> None:
    assert client_ip("203.0.113.9", "1.2.3.4", PROXIES) == "203.0.113.9"


def test_forwarded_for_is_believed_from_a_trusted_proxy() -> None:
    assert client_ip("127.0.0.1", "198.51.100.7", PROXIES) == "198.51.100.7"


def test_spoofed_leftmost_hops_are_skipped() -> None:
    # The visitor sent "X-Forwarded-For: 6.6.6.6"; our two proxies appended the real address.
    assert client_ip("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.1", PROXIES) == "198.51.100.7"


def test_no_header_uses_the_peer() -> None:
    assert client_ip("10.0.0.2", None, PROXIES) == "10.0.0.2"
    assert client_ip(None, None, PROXIES) == "unknown"


def test_bad_network_is_named() -> None:
    with pytest.raises(ValueError, match="'nonsense'"):
        parse_networks("10.0.0.0/8, nonsense")
