"""SDP checks and rewrites, trickled candidates, data-channel messages and interface filters:
sans-I/O, no network."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

import ifaddr
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack

from voice_server.voice.protocol import ProtocolViolation, SessionEnd, SessionStart
from voice_server.voice.webrtc.channel import parse_message
from voice_server.voice.webrtc.errors import BadOffer
from voice_server.voice.webrtc.network import addresses_on
from voice_server.voice.webrtc.sdp import advertise_host, check_offer, parse_candidate


@pytest.fixture
async def offer() -> str:
    pc = RTCPeerConnection(RTCConfiguration([]))
    pc.addTrack(AudioStreamTrack())
    pc.createDataChannel("parley")
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


def test_a_browser_like_offer_passes(offer: str) -> None:
    check_offer(offer)


@pytest.mark.parametrize(
    ("mangle", "words"),
    [
        (lambda s: "hello", "not SDP"),
        (lambda s: s.split("m=application")[0], "data channel"),
        (lambda s: s.replace("opus/48000/2", "PCMU/8000"), "Opus"),
        (lambda s: s.replace("a=sendrecv", "a=recvonly"), "microphone"),
        (lambda s: s.replace("a=ice-pwd:", "a=x-pwd:"), "ice-pwd"),
        (lambda s: s.replace("a=fingerprint:", "a=x:"), "fingerprint"),
        (lambda s: s + "a=x\r\n" * 10_000, "larger"),
    ],
)
def test_unusable_offers_are_refused_with_the_reason(
    offer: str, mangle: Callable[[str], str], words: str
) -> None:
    with pytest.raises(BadOffer, match=words):
        check_offer(mangle(offer))


def test_host_candidates_advertise_the_public_address(offer: str) -> None:
    rewritten = advertise_host(offer, "203.0.113.7")
    hosts = [line for line in rewritten.split("\r\n") if " typ host" in line]
    v4 = [line for line in hosts if "." in line.split(" ")[4]]
    assert v4
    assert all(line.split(" ")[4] == "203.0.113.7" for line in v4)
    ports = [line.split(" ")[5] for line in v4]
    assert ports == [
        line.split(" ")[5]
        for line in offer.split("\r\n")
        if " typ host" in line and "." in line.split(" ")[4]
    ]
    assert any(line.split(" ")[4].count(":") for line in hosts)  # IPv6 ones are left alone


def test_trickled_candidates_parse_and_mdns_ones_are_skipped() -> None:
    line = "candidate:842163049 1 udp 1677729535 198.51.100.4 46154 typ srflx raddr 0.0.0.0 rport 0"
    parsed = parse_candidate(line, "0", 0)
    assert parsed.candidate is not None
    assert (parsed.candidate.ip, parsed.candidate.port, parsed.candidate.type) == (
        "198.51.100.4",
        46154,
        "srflx",
    )
    assert parse_candidate("", "0", None).candidate is None  # end of candidates
    assert parse_candidate("candidate:1 1 udp 1 abc.local 9 typ host", "0", 0).skipped
    with pytest.raises(BadOffer):
        parse_candidate("candidate:garbage", "0", 0)
    with pytest.raises(BadOffer, match="sdpMid"):
        parse_candidate(line, None, None)


def test_channel_messages_parse_like_the_websocket_protocol() -> None:
    bot = uuid4()
    start = parse_message(f'{{"type": "session.start", "bot_id": "{bot}", "sample_rate": 8000}}')
    assert start == SessionStart(bot, 16_000, 1, 48_000)  # the rates are the tracks'
    assert parse_message('{"type": "session.end"}') == SessionEnd()
    for message, code in (
        ("{", "invalid_json"),
        ("[]", "invalid_message"),
        ('{"type": "dance"}', "unknown_message_type"),
        ('{"type": "session.start"}', "invalid_message"),
        (b"\x00", "invalid_message"),
        ("x" * 10_000, "frame_too_large"),
    ):
        with pytest.raises(ProtocolViolation) as caught:
            parse_message(message)
        assert caught.value.code == code


def test_interfaces_are_chosen_by_name_or_address() -> None:
    adapters = [
        ifaddr.Adapter("eth0", "eth0", [ifaddr.IP("192.0.2.2", 24, "eth0")]),
        ifaddr.Adapter("docker0", "docker0", [ifaddr.IP("172.17.0.1", 16, "docker0")]),
        ifaddr.Adapter("wg0", "wg0", [ifaddr.IP(("fd00::9", 0, 0), 64, "wg0")]),
    ]
    assert addresses_on(frozenset({"eth0"}), adapters) == {"192.0.2.2"}
    assert addresses_on(frozenset({"fd00::9", "docker0"}), adapters) == {"fd00::9", "172.17.0.1"}
