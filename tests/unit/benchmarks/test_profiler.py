from benchmarks.profiler import parse_raw

LOOP = "run (asyncio/runners.py:190)"
SPEAK = "VoiceSession._speak (voice_server/voice/session.py:{line})"
TTS = "DeepgramTTS.synthesize (voice_server/voice/providers/deepgram_tts.py:{line})"
RAW = "\n".join([
    f"{LOOP};_run_once (asyncio/base_events.py:1922);EpollSelector.select (selectors.py:468) 50",
    f"{LOOP};{SPEAK.format(line=429)};{TTS.format(line=78)};AsyncClient.send (httpx) 30",
    f"{LOOP};{SPEAK.format(line=440)};{TTS.format(line=80)} 10",
    f"{LOOP};_SelectorSocketTransport.write (asyncio/selector_events.py:1057) 10",
])  # fmt: skip


def test_busy_time_is_charged_to_the_innermost_parley_function() -> None:
    profile = parse_raw(RAW)
    assert profile.samples == 100
    assert profile.busy == 50  # the selector's wait is idle
    summary = profile.summary()
    assert summary["busy_share"] == 0.5
    assert summary["ours_innermost"] == {
        "DeepgramTTS.synthesize (voice_server/voice/providers/deepgram_tts.py)": 0.8,
        "(event loop and libraries, below no Parley function)": 0.2,
    }


def test_lines_that_are_not_samples_are_skipped() -> None:
    assert parse_raw("garbage\n\n").samples == 0
