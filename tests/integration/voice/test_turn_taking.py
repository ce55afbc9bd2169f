"""Turn-taking behaviours (issue 15) through the real WebSocket, server and database, with
Silero VAD and the evidence end of turn: a pause after a mid-phrase is held open, and a knock
on an idle line never becomes a turn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import make_settings
from tests.integration.voice.conftest import VoiceServer
from tests.integration.voice.harness import voice_client
from tests.unit.voice.audio_signals import silence
from tests.unit.voice.test_silero import spoken
from voice_server.settings import Settings


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(
        tmp_path, database_url=database_url, voice_end_of_turn="evidence", voice_vad="silero"
    )


def knock() -> bytes:
    t = np.arange(1600) / 16_000
    hit = np.sin(2 * np.pi * 140 * t) * np.exp(-t / 0.015) * 20_000
    return hit.astype("<i2").tobytes()


async def test_a_pause_after_a_mid_phrase_is_held_open_and_the_turn_ends_on_its_words(
    voice_server: VoiceServer,
) -> None:
    # The first chunk's words stop on "for": the 600 ms pause after it is not the end.
    voice_server.stt.texts = ["can I book a table for", "four people"]
    first, second = await spoken("Can I book a table for"), await spoken("four people.")
    async with voice_client(voice_server.ws_url) as client:
        await client.start(voice_server.bot_id)
        await client.stream(silence(300) + first + silence(600) + second + silence(1200))
        metrics = await client.wait_for("metrics")
        [final] = client.events("transcript.final")
        assert final["text"] == "can I book a table for four people"
        assert len(client.events("vad.end")) == 1
        assert metrics["end_of_turn_rule"] == "transcript_complete"
        assert 450 <= metrics["end_of_turn_wait_ms"] < 700  # decided before the old 700 ms


async def test_a_knock_on_an_idle_line_never_becomes_a_turn(voice_server: VoiceServer) -> None:
    voice_server.stt.texts = ["what time do you open"]
    words = await spoken("What time do you open?")
    async with voice_client(voice_server.ws_url) as client:
        await client.start(voice_server.bot_id)
        audio = silence(300) + knock() + silence(300) + knock() + silence(700)
        await client.stream(audio + words + silence(1200))
        await client.wait_for("metrics")
        [started] = client.events("vad.start")  # the words only
        assert started["at_ms"] >= len(audio) / 32 - 100
        assert voice_server.stt.calls >= 1
        [final] = client.events("transcript.final")
        assert final["text"] == "what time do you open"
