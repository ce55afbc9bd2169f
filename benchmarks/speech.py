"""Real speech for the callers: eSpeak NG utterances at 16 kHz, as a microphone would send."""

from __future__ import annotations

from voice_server.voice.providers.base import VoiceOptions
from voice_server.voice.providers.espeak_tts import EspeakTTS

RATE = 16_000
FRAME_BYTES = RATE // 50 * 2  # 20 ms of mono PCM16

QUESTIONS = (
    "Hello, what are your opening hours on Saturday?",
    "Do you ship parcels to Norway, and how long does it take?",
    "Can I return a jacket I bought, um, three weeks ago?",
    "Thank you, that is all for today.",
)


async def utterances(texts: tuple[str, ...] = QUESTIONS) -> list[bytes]:
    """Each question as PCM16 at 16 kHz, trimmed to whole 20 ms frames."""
    tts = EspeakTTS()
    spoken = []
    for text in texts:
        pcm = b"".join([c async for c in tts.synthesize(text, sample_rate=RATE,
                                                         options=VoiceOptions())])  # fmt: skip
        spoken.append(pcm[: len(pcm) // FRAME_BYTES * FRAME_BYTES])
    await tts.aclose()
    return spoken


def silence(ms: int) -> bytes:
    return bytes(RATE * ms // 1000 * 2)
