from __future__ import annotations

import pytest

from voice_server.voice.pacer import AudioPacer

RATE = 24_000
FRAME = RATE // 50 * 2  # 20 ms


def audio(ms: int) -> bytes:
    return b"\x01\x00" * (RATE * ms // 1000)


def test_sends_only_the_lead_ahead_then_real_time() -> None:
    pacer = AudioPacer(RATE, frame_ms=20, lead_ms=100, refill_ms=20)
    pacer.push(audio(1000))
    assert len(pacer.poll(0.0)) == 5  # 100 ms lead
    assert pacer.poll(0.0) == []
    assert pacer.next_due(0.0) == pytest.approx(0.02)  # when the first frame has played
    assert len(pacer.poll(0.041)) == 2  # two more frames have played
    assert all(len(f) == FRAME for f in pacer.poll(0.5))


def test_playback_report_knows_which_words_were_heard() -> None:
    pacer = AudioPacer(RATE, frame_ms=20, lead_ms=100)
    pacer.begin_clause("Hello there.")
    pacer.push(audio(400))
    pacer.begin_clause("Our shop opens at nine on weekdays.")
    pacer.push(audio(800))
    pacer.close()
    now = 0.0
    while now < 0.8:
        pacer.poll(now)
        now += 0.01
    report = pacer.stop(0.8)
    # 800 ms played: the first clause and half of the second.
    assert report.played_samples == pytest.approx(RATE * 0.8, abs=RATE * 0.011)
    assert report.text == "Hello there. Our shop opens"
    assert report.sent_samples > report.played_samples
    assert not report.complete
    assert pacer.poll(5.0) == []  # nothing after a stop


def test_a_gap_in_tts_does_not_count_as_played() -> None:
    pacer = AudioPacer(RATE, frame_ms=20, lead_ms=100)
    pacer.begin_clause("One.")
    pacer.push(audio(100))
    pacer.poll(0.0)
    # TTS is slow: nothing arrives for a second, the client plays 100 ms and waits.
    pacer.begin_clause("Two three four five.")
    pacer.push(audio(400))
    pacer.poll(1.0)
    report = pacer.stop(1.05)
    assert report.played_samples == pytest.approx(RATE * 0.15, abs=RATE * 0.011)
    assert report.text.startswith("One.")


def test_finished_reply_is_complete_with_all_text() -> None:
    pacer = AudioPacer(RATE, lead_ms=100)
    pacer.begin_clause("All of it.")
    pacer.push(audio(110))  # not a whole number of frames: the tail is padded
    pacer.close()
    frames = pacer.poll(0.0) + pacer.poll(1.0)
    assert len(frames) == 6
    assert pacer.drained
    report = pacer.playback(2.0)
    assert report.complete
    assert report.text == "All of it."


def test_wakes_once_per_refill_and_keeps_the_client_fed() -> None:
    pacer = AudioPacer(RATE, frame_ms=20, lead_ms=150, refill_ms=60)
    pacer.push(audio(2000))
    pacer.close()
    now, wakeups, sends = 0.0, 0, []
    while not pacer.drained:
        frames = pacer.poll(now)
        wakeups += 1
        sends.append(len(frames))
        # The client never runs dry: at least lead - refill is buffered after each send.
        assert pacer.finished_playing(now) is not None
        assert pacer.finished_playing(now) - now >= 0.09 - 1e-9 or pacer.drained
        due = pacer.next_due(now)
        if due is None:
            break
        now = due
    assert sum(sends) == 100
    assert wakeups <= 100 // 3 + 2  # three frames a wake-up, not one
    assert sends[0] == 7  # the first send fills the lead at once


def test_the_last_frames_go_without_waiting_for_a_whole_refill() -> None:
    pacer = AudioPacer(RATE, frame_ms=20, lead_ms=150, refill_ms=60)
    pacer.push(audio(160))
    pacer.close()
    assert len(pacer.poll(0.0)) == 7
    # One frame left: it goes as soon as one frame of room opens, not three.
    assert pacer.next_due(0.0) == pytest.approx(0.01)
