"""The one playback loop: paced audio from an :class:`AudioPacer` out to a sender, on a
:class:`Clock`. Replies, the greeting and the server's notices all play through it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from voice_server.voice.engine.clock import Clock
from voice_server.voice.engine.outbox import Outbox
from voice_server.voice.engine.transport import Transport
from voice_server.voice.pacer import AudioPacer
from voice_server.voice.protocol import AudioEnd, AudioStart, Notice
from voice_server.voice.providers.base import ProviderError, TextToSpeech, VoiceOptions

_log = logging.getLogger("parley.voice")

NOTICE_TTS_TIMEOUT_S = 10.0


async def play_out(
    pacer: AudioPacer,
    clock: Clock,
    wake: asyncio.Event,
    send: Callable[[bytes], None],
    on_start: Callable[[], None],
) -> bool:
    """Send the pacer's frames as they fall due until it is drained, then wait until the client
    has played them. ``wake`` is set by whoever pushes audio or closes the pacer. Returns
    whether any audio was sent (``on_start`` ran before the first frame)."""
    started = False
    while True:
        now = clock.now()
        frames = pacer.poll(now)
        if frames:
            if not started:
                started = True
                on_start()
            # The frames due together go in one message: a third of the transport's writes.
            send(b"".join(frames))
        if pacer.drained:
            break
        due = pacer.next_due(now)
        if due is None:
            wake.clear()
            await wake.wait()
        else:
            await clock.sleep(due - now)
    if started:
        end = pacer.finished_playing(clock.now())
        if end is not None:
            await clock.sleep(max(0.0, end - clock.now()))
    return started


async def synthesize_notice(
    pacer: AudioPacer,
    voices: Sequence[TextToSpeech | None],
    text: str,
    options: VoiceOptions,
) -> None:
    """Fill ``pacer`` with ``text`` in the first voice that manages it (bounded in time), and
    close it; an empty, closed pacer when none did."""
    for tts in voices:
        if tts is None:
            continue
        chunks: list[bytes] = []
        try:
            async with asyncio.timeout(NOTICE_TTS_TIMEOUT_S):
                rate = pacer.sample_rate
                async for chunk in tts.synthesize(text, sample_rate=rate, options=options):
                    chunks.append(chunk)
        except (ProviderError, TimeoutError) as exc:
            _log.warning("a notice could not be spoken: %r", exc)
            continue
        pacer.begin_clause(text)
        for chunk in chunks:
            pacer.push(chunk)
        break
    pacer.close()


async def notify_and_say(
    transport: Transport,
    clock: Clock,
    notice: Notice,
    voices: Sequence[TextToSpeech | None],
    *,
    sample_rate: int,
    lead_ms: int,
    options: VoiceOptions,
) -> None:
    """Outside a session (a refused start): send ``notice``, say its text paced like a reply
    through the same loop, and return when the client has played it."""
    await transport.send_event(notice)
    pacer = AudioPacer(sample_rate, lead_ms=lead_ms)
    await synthesize_notice(pacer, voices, notice.text, options)
    if pacer.drained:
        return  # nothing could be synthesized: the error event says it all
    outbox = Outbox(transport)
    writer = asyncio.create_task(outbox.run(), name="voice-notice-writer")
    try:
        played = await play_out(
            pacer,
            clock,
            asyncio.Event(),
            outbox.audio,
            lambda: outbox.event(AudioStart(notice.turn, sample_rate)),
        )
        if played:
            outbox.event(AudioEnd(notice.turn))
        await outbox.flush(NOTICE_TTS_TIMEOUT_S)
    finally:
        writer.cancel()
        await asyncio.wait((writer,))
