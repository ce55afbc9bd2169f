"""SDP and ICE-candidate checks and rewrites, sans-I/O (text in, text or errors out).

aiortc accepts almost any text as a remote description (``"garbage"`` included) and fails later,
deep in a task; so an offer is checked here first and refused with a precise message. The
answer's host candidates may be rewritten to the address the server is reached at behind a
1:1 NAT (``PARLEY_WEBRTC_HOST_ADDRESS``), the way media servers' "NAT 1:1 mapping" works.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from aiortc import RTCIceCandidate
from aiortc.sdp import SessionDescription, candidate_from_sdp

from voice_server.voice.webrtc.errors import BadOffer

MAX_SDP_BYTES = 32_768
MAX_MEDIA_SECTIONS = 8
MAX_CANDIDATES_PER_REQUEST = 32
MAX_CANDIDATE_CHARS = 512

_OPUS = re.compile(r"^a=rtpmap:\d+ opus/48000(/2)?$", re.IGNORECASE | re.MULTILINE)


def check_offer(sdp: str) -> None:
    """Raise :class:`BadOffer` unless ``sdp`` can start a Parley call: one audio section that
    offers Opus, a data channel, ICE credentials and a DTLS fingerprint."""
    if len(sdp.encode()) > MAX_SDP_BYTES:
        raise BadOffer(f"the offer is larger than {MAX_SDP_BYTES} bytes")
    text = sdp.replace("\r\n", "\n").strip()
    if not text.startswith("v=0"):
        raise BadOffer("the offer is not SDP (it must start with v=0)")
    sections = re.split(r"(?m)^(?=m=)", text)
    media = sections[1:]
    if not media or len(media) > MAX_MEDIA_SECTIONS:
        raise BadOffer(f"the offer must have 1 to {MAX_MEDIA_SECTIONS} media sections")
    audio = [s for s in media if s.startswith("m=audio ")]
    if len(audio) != 1:
        raise BadOffer("the offer must have exactly one audio section")
    if not _OPUS.search(audio[0]):
        raise BadOffer("the offer's audio section does not offer Opus at 48 kHz")
    if "a=inactive" in audio[0] or "a=recvonly" in audio[0]:
        raise BadOffer("the offer's audio section must send the caller's microphone")
    if not any(s.startswith("m=application ") and "webrtc-datachannel" in s for s in media):
        raise BadOffer("the offer has no data channel (create the 'parley' channel first)")
    for attribute in ("a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:"):
        if attribute not in text:
            raise BadOffer(f"the offer has no {attribute[2:-1]}")
    try:
        SessionDescription.parse(sdp)
    except (ValueError, IndexError, KeyError) as exc:
        raise BadOffer(f"the offer cannot be parsed: {exc}") from None


@dataclass(frozen=True)
class TrickledCandidate:
    """One ``RTCIceCandidateInit`` of a PATCH; ``candidate`` None means end-of-candidates."""

    candidate: RTCIceCandidate | None
    skipped: bool = False  # an mDNS (.local) candidate, which aioice cannot resolve


def parse_candidate(
    candidate: str, sdp_mid: str | None, sdp_mline_index: int | None
) -> TrickledCandidate:
    """The browser's ``RTCIceCandidate.toJSON()`` fields, as aiortc wants them."""
    line = candidate.strip()
    if not line:
        return TrickledCandidate(None)
    if len(line) > MAX_CANDIDATE_CHARS:
        raise BadOffer(f"an ICE candidate is longer than {MAX_CANDIDATE_CHARS} characters")
    if sdp_mid is None and sdp_mline_index is None:
        raise BadOffer("an ICE candidate needs sdpMid or sdpMLineIndex")
    line = line.removeprefix("a=").removeprefix("candidate:")
    if len(line.split()) < 8:  # aiortc only asserts it
        raise BadOffer(f"the ICE candidate {candidate!r} has too few fields")
    try:
        parsed = candidate_from_sdp(line)
    except (ValueError, IndexError, KeyError) as exc:
        raise BadOffer(f"the ICE candidate {candidate!r} cannot be parsed ({exc})") from None
    if parsed.ip.endswith(".local"):
        return TrickledCandidate(None, skipped=True)
    try:
        ipaddress.ip_address(parsed.ip)
    except ValueError:
        raise BadOffer(f"the ICE candidate's address {parsed.ip!r} is not an IP") from None
    parsed.sdpMid = sdp_mid
    parsed.sdpMLineIndex = sdp_mline_index
    return TrickledCandidate(parsed)


def advertise_host(sdp: str, address: str) -> str:
    """Put ``address`` in place of the host candidates' own addresses of its family (and of
    the connection lines), keeping their ports: behind a 1:1 NAT the public address reaches
    the same port."""
    family = ipaddress.ip_address(address).version
    lines = []
    for line in sdp.split("\r\n"):
        if line.startswith("a=candidate:") and " typ host" in line:
            parts = line.split(" ")
            if len(parts) > 5 and _version(parts[4]) == family:
                parts[4] = address
                line = " ".join(parts)
        elif line.startswith("c=IN IP"):
            parts = line.split(" ")
            if len(parts) == 3 and _version(parts[2]) == family:
                line = f"c=IN IP{family} {address}"
        lines.append(line)
    return "\r\n".join(lines)


def _version(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None
