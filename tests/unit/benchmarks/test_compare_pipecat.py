"""The Pipecat comparison: its figures, its wiring to the shared vendor fakes, and (when the
Pipecat virtualenv exists) the benchmark's own caller driving the Pipecat bot unchanged."""

from __future__ import annotations

import math

import pytest

# Needs the vendor fakes in their own process (benchmarks.vendors) and the harness's helpers.
compare = pytest.importorskip("benchmarks.compare_pipecat")
vendors_module = pytest.importorskip("benchmarks.vendors")


def test_the_ratio_says_how_many_times_lower_parley_overhead_is() -> None:
    parley, pipecat = {"overhead_p50_ms": 20.0}, {"overhead_p50_ms": 50.0}
    assert compare.overhead_ratio(parley, pipecat, "overhead_p50_ms") == 2.5
    assert math.isnan(compare.overhead_ratio({"overhead_p50_ms": 0.0}, pipecat, "overhead_p50_ms"))


def test_the_pipecat_bot_is_pointed_at_the_same_fakes_and_silence() -> None:
    vendors = vendors_module.Vendors(
        profile="zero", groq_audio_url="http://127.0.0.1:1", groq_audio_key="g",
        deepgram_url="http://127.0.0.1:2/", deepgram_key="d", chat_url="http://127.0.0.1:3",
        chat_key="c",
    )  # fmt: skip
    config = compare.pipecat_bot_config(vendors, mode="agent", end_of_turn_ms=800)
    assert config["stt_url"] == "http://127.0.0.1:1/openai/v1"
    assert config["llm_url"] == "http://127.0.0.1:3/openai/v1"
    assert config["tts_url"] == "http://127.0.0.1:2"
    # Silero's stop_secs (0.2 s) plus the turn-stop wait make the same 800 ms as Parley's.
    assert config["user_speech_timeout_s"] == pytest.approx(0.6)
    assert config["tool"] is True  # agent mode: a search_knowledge call, then the answer


def test_in_grounded_mode_pipecat_gets_parley_prompt_and_no_tool() -> None:
    vendors = vendors_module.Vendors(
        profile="zero", groq_audio_url="http://a", groq_audio_key="g", deepgram_url="http://b",
        deepgram_key="d", chat_url="http://c", chat_key="c",
    )  # fmt: skip
    config = compare.pipecat_bot_config(vendors, mode="grounded", end_of_turn_ms=700)
    assert config["tool"] is False
    assert "No passage of the knowledge base matches" in config["system_prompt"]
    assert config["user_speech_timeout_s"] == pytest.approx(0.5)


@pytest.mark.slow
@pytest.mark.skipif(
    not compare.pipecat_installed(),
    reason="no .venv-pipecat (python -m benchmarks.compare_pipecat creates it)",
)
async def test_the_benchmark_caller_gets_a_spoken_reply_from_the_pipecat_bot() -> None:
    from benchmarks.caller import call
    from benchmarks.speech import utterances
    from tests.fakes.latency import ZERO

    speech = await utterances(("Hello, what are your opening hours on Saturday?",))
    async with vendors_module.vendors_process("zero") as vendors:
        config = compare.pipecat_bot_config(vendors, mode="grounded", end_of_turn_ms=800)
        async with compare.pipecat_under_test(
            vendors, ZERO, python=compare.pipecat_python(), config=config, end_of_turn_ms=800
        ) as bot:
            result = await call(bot.ws_url, bot.bot_id, speech, key="k", origin=bot.origin)
    assert result.errors == []
    [turn] = result.turns
    assert turn.voice_to_voice_s is not None
    assert turn.frames > 0  # reply audio, then audio.end ended the turn
    assert turn.waterfall["end_of_turn_wait_ms"] == 800


def test_voice_to_voice_by_turn_shows_whether_a_backlog_grows() -> None:
    def caller(*seconds: float | None) -> dict[str, object]:
        return {"turns": [{"voice_to_voice_s": s} for s in seconds]}

    results = [caller(1.0, 2.0, 4.0), caller(1.2, 2.2, None)]
    assert compare.v2v_by_turn(results) == [1100.0, 2100.0, 4000.0]


def test_smart_turn_leaves_the_turn_end_to_pipecat_default_model() -> None:
    vendors = vendors_module.Vendors(
        profile="zero", groq_audio_url="http://a", groq_audio_key="g", deepgram_url="http://b",
        deepgram_key="d", chat_url="http://c", chat_key="c",
    )  # fmt: skip
    config = compare.pipecat_bot_config(vendors, mode="grounded", end_of_turn_ms=800, turn="smart")
    assert config["turn"] == "smart"
    assert config["user_speech_timeout_s"] == 0.0  # nothing hides the STT request
