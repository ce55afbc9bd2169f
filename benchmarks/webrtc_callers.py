"""Run N WebRTC callers against a running Parley and print their results as JSON, in the shape
of ``benchmarks.callers`` (a separate process, so that the callers' Opus encoding and decoding do
not load the server).

    python -m benchmarks.webrtc_callers --http-url http://... --bot-id ... --secret psk_... -n 10

Voice-to-voice is timed at the caller, from the moment its last speech frame left the
microphone track to the first reply frame with speech energy out of its jitter buffer. A reply
frame counts as late when it arrives more than 40 ms behind its real-time slot, counted from the
reply's first frame (as the WebSocket callers count them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from typing import Any

from benchmarks.speech import utterances
from tests.integration.webrtc.caller import SPEECH_RMS, WebRtcCaller

LATE_AFTER_S = 0.040
GAP_S = 1.2
CALL_TIMEOUT_S = 240.0


def _reply_frames(
    caller: WebRtcCaller, since: float, until: float
) -> tuple[int, int, float | None]:
    """Frames of the reply heard in [since, until]: how many, how many late, first loud one."""
    heard = [h for h in caller.heard if since <= h.at <= until]
    first_loud = next((h.at for h in heard if h.rms > SPEECH_RMS), None)
    if first_loud is None:
        return 0, 0, None
    reply = [h for h in heard if h.at >= first_loud]
    late = sum(1 for i, h in enumerate(reply) if h.at - (first_loud + i * 0.02) > LATE_AFTER_S)
    return len(reply), late, first_loud


async def call(http_url: str, bot_id: str, secret: str, turns: list[bytes]) -> dict[str, Any]:
    caller = WebRtcCaller(http_url, {"Authorization": f"Bearer {secret}"})
    result: dict[str, Any] = {"turns": [], "errors": []}
    try:
        answer = await caller.offer(bot_id)
        if answer.status_code != 201:
            result["errors"].append({"code": f"http_{answer.status_code}", "message": answer.text})
            return result
        await caller.start(bot_id)
        for n, speech in enumerate(turns):
            caller.mic.say(speech)
            await caller.mic.said()
            speech_end = caller.mic.spoken_until or time.monotonic()
            try:
                await caller.wait_for("audio.end", count=n + 1, timeout_s=30)
                reply_end = time.monotonic()
                await caller.wait_for("metrics", count=n + 1, timeout_s=10)  # after audio.end
            except TimeoutError:
                result["turns"].append({"voice_to_voice_s": None, "waterfall": {},
                                        "late_frames": 0, "frames": 0})  # fmt: skip
                continue
            frames, late, first = _reply_frames(caller, speech_end, reply_end)
            metrics = caller.of("metrics")
            result["turns"].append({
                "voice_to_voice_s": None if first is None else first - speech_end,
                "waterfall": metrics[-1] if metrics else {},
                "late_frames": late, "frames": frames,
            })  # fmt: skip
            await asyncio.sleep(GAP_S)
        caller.send({"type": "session.end"})
        await caller.wait_for("session.ended", timeout_s=10)
    except Exception as exc:
        result["errors"].append({"code": type(exc).__name__, "message": str(exc)})
    finally:
        result["errors"] += [e for e in caller.of("error")]
        await caller.close()
    return result


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    speech = (await utterances())[: args.turns]
    rng = random.Random(7)

    async def one(index: int) -> dict[str, Any]:
        await asyncio.sleep(rng.random() * min(1.0, args.callers / 50))
        try:
            async with asyncio.timeout(CALL_TIMEOUT_S):
                result = await call(args.http_url, args.bot_id, args.secret, speech)
        except TimeoutError:
            result = {"turns": [], "errors": [{"code": "call_timeout", "message": ""}]}
        return {"caller": index, **result}

    return list(await asyncio.gather(*(one(i) for i in range(args.callers))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http-url", required=True)
    parser.add_argument("--bot-id", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("-n", "--callers", type=int, default=1)
    parser.add_argument("--turns", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
