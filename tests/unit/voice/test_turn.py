from __future__ import annotations

from voice_server.voice.policies import MinSpeechBargeIn
from voice_server.voice.turn import (
    BargeIn,
    TranscribeChunk,
    TurnController,
    TurnState,
    UserSpeechStarted,
    UserTurnEnded,
)
from voice_server.voice.vad import (
    SpeechChunk,
    SpeechEnded,
    SpeechProgress,
    SpeechStarted,
)


def chunk(u: int, i: int, final: bool = False) -> SpeechChunk:
    return SpeechChunk(u, i, b"\x01\x00" * 10, 0, 0, final)


def test_a_full_turn_walks_the_states() -> None:
    turns = TurnController(MinSpeechBargeIn(300))
    assert turns.feed(SpeechStarted(0, 100)) == [UserSpeechStarted(0, 100)]
    assert turns.state is TurnState.USER_SPEAKING
    assert turns.feed(chunk(0, 0)) == [TranscribeChunk(chunk(0, 0))]
    assert turns.feed(SpeechEnded(0, 100, 900, 1500, 700)) == [UserTurnEnded(0, 100, 900, 1500)]
    assert turns.state is TurnState.THINKING
    turns.reply_speaking()
    assert turns.state is TurnState.BOT_SPEAKING
    turns.reply_finished()
    assert turns.state is TurnState.LISTENING


def test_a_cough_while_the_bot_speaks_is_ignored() -> None:
    turns = TurnController(MinSpeechBargeIn(300))
    turns.feed(SpeechStarted(0, 0))
    turns.feed(SpeechEnded(0, 0, 500, 1100, 500))
    turns.reply_speaking()
    out = turns.feed(SpeechStarted(1, 2000))
    out += turns.feed(SpeechProgress(1, 2000, 200))
    out += turns.feed(chunk(1, 0, final=True))
    out += turns.feed(SpeechEnded(1, 2000, 2200, 2800, 200))
    assert out == []
    assert turns.state is TurnState.BOT_SPEAKING


def test_long_enough_speech_over_the_bot_barges_in_and_becomes_the_next_turn() -> None:
    turns = TurnController(MinSpeechBargeIn(300))
    turns.feed(SpeechStarted(0, 0))
    turns.feed(SpeechEnded(0, 0, 500, 1100, 500))
    turns.reply_speaking()
    turns.feed(SpeechStarted(1, 2000))
    # A chunk cut before the barge-in decision is held, then released with it.
    assert turns.feed(chunk(1, 0)) == []
    assert turns.feed(SpeechProgress(1, 2280, 280)) == []
    out = turns.feed(SpeechProgress(1, 2300, 300))
    assert out == [BargeIn(1, 2300), UserSpeechStarted(1, 2300), TranscribeChunk(chunk(1, 0))]
    assert turns.state is TurnState.USER_SPEAKING
    assert turns.feed(SpeechEnded(1, 2000, 2600, 3200, 600)) == [UserTurnEnded(1, 2000, 2600, 3200)]


def test_barge_in_also_works_while_the_bot_is_still_thinking() -> None:
    turns = TurnController(MinSpeechBargeIn(0))
    turns.feed(SpeechStarted(0, 0))
    turns.feed(SpeechEnded(0, 0, 500, 1100, 500))
    turns.feed(SpeechStarted(1, 1200))
    assert BargeIn(1, 1200) in turns.feed(SpeechProgress(1, 1200, 60))
