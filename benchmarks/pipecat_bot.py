"""A Pipecat voice bot that speaks Parley's WebSocket protocol, for benchmarks.compare_pipecat.

Runs in its own virtualenv (``.venv-pipecat``, made by ``compare_pipecat.ensure_pipecat_venv``),
never in Parley's: Pipecat pins its own versions of shared libraries.

    .venv-pipecat/bin/python -m benchmarks.pipecat_bot --port 8790 --config config.json

One FastAPI app under uvicorn; each WebSocket connection on ``/v1/voice/ws`` gets its own
pipeline, as in Pipecat's telephony examples:

    transport.input() → session (protocol replies) → Groq Whisper STT (segmented) →
    user aggregator (Silero VAD, turn stop strategy) → Groq LLM (tool: search_knowledge) →
    Deepgram TTS (HTTP) → transport.output() → assistant aggregator

A custom ``FrameSerializer`` (``ParleySerializer``) turns the protocol's ``session.start`` and
PCM16 binary frames into Pipecat frames and back; an observer sends the JSON events the callers
rely on (``audio.start``, ``audio.end``, ``metrics``, ``transcript.final``, ``interrupted``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from dataclasses import dataclass
from typing import Any

import aiohttp
import uvicorn
from fastapi import FastAPI, WebSocket
from loguru import logger
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    ErrorFrame,
    Frame,
    InputAudioRawFrame,
    InputTransportMessageFrame,
    InterruptionFrame,
    LLMTextFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    UserStoppedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.runner import WorkerRunner
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.services.deepgram.tts import DeepgramHttpTTSService
from pipecat.services.groq.llm import GroqLLMService
from pipecat.services.groq.stt import GroqSTTService
from pipecat.services.llm_service import FunctionCallParams
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from benchmarks.pipecat_protocol import (
    ProtocolError,
    SessionState,
    client_audio,
    client_text,
    event,
)

# What Parley's search_knowledge tool answers on the benchmark's empty knowledge base
# (rag.agent.format_passages([])), so that both servers say the same reply.
NO_PASSAGE = "<documents>\nNo passage of the knowledge base matches this search.\n</documents>"
SEARCH_TOOL = FunctionSchema(
    name="search_knowledge",
    description=(
        "Search the business's documents (knowledge base) for passages relevant to a "
        "question. Input: a short search query in the user's language. Returns numbered "
        "passages with their source."
    ),
    properties={"query": {"type": "string", "description": "A short search query."}},
    required=["query"],
)


@dataclass(frozen=True)
class Config:
    stt_url: str  # Groq's OpenAI-compatible base, ending in /openai/v1
    stt_key: str
    llm_url: str
    llm_key: str
    llm_model: str
    tts_url: str  # Deepgram's REST base
    tts_key: str
    tts_voice: str
    system_prompt: str
    tool: bool  # offer search_knowledge, as Parley's agent does
    user_speech_timeout_s: float  # SpeechTimeoutUserTurnStopStrategy's wait after the VAD stop
    output_frame_ms: int  # reply audio frame length (the protocol sends 20 ms frames)
    # timeout: SpeechTimeoutUserTurnStopStrategy (silence, like Parley); smart: Pipecat's
    # default stop strategy, the Smart Turn v3 model deciding from the audio (then
    # user_speech_timeout_s is 0: nothing hides the STT request).
    turn: str = "timeout"


def vad_params() -> VADParams:
    """Pipecat's defaults (confidence 0.7, start 0.2 s, stop 0.2 s, min volume 0.6)."""
    return VADParams()


class ParleySerializer(FrameSerializer):
    """Parley's voice protocol: JSON text frames, PCM16 binary frames both ways."""

    def __init__(self) -> None:
        super().__init__()
        self.state = SessionState()

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, OutputAudioRawFrame):
            return bytes(frame.audio) if self.state.started else None
        if isinstance(frame, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame):
            if self.should_ignore_frame(frame):
                return None
            return json.dumps(frame.message)
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        if isinstance(data, bytes):
            pcm = client_audio(self.state, data)
            if isinstance(pcm, ProtocolError):
                return InputTransportMessageFrame(message=_error_message(pcm))
            assert self.state.sample_rate is not None
            return InputAudioRawFrame(audio=pcm, sample_rate=self.state.sample_rate, num_channels=1)
        message = client_text(self.state, data)
        if isinstance(message, ProtocolError):
            return InputTransportMessageFrame(message=_error_message(message))
        return InputTransportMessageFrame(message=message)


def _error_message(error: ProtocolError) -> dict[str, Any]:
    return {"type": "error", "code": error.code, "message": error.message, "fatal": False}


class SessionReplies(FrameProcessor):
    """Answers the protocol's control messages (session.started, session.ended, errors)."""

    def __init__(self, serializer: ParleySerializer) -> None:
        super().__init__()
        self.serializer = serializer

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputTransportMessageFrame) and "type" in frame.message:
            reply = self._reply(frame.message)
            if reply is not None:
                await self.push_frame(OutputTransportMessageUrgentFrame(message=reply))
            return
        await self.push_frame(frame, direction)

    def _reply(self, message: dict[str, Any]) -> dict[str, Any] | None:
        state = self.serializer.state
        match message["type"]:
            case "session.start":
                return {"type": "session.started", "session_id": "pipecat",
                        "input_sample_rate": state.sample_rate,
                        "output_sample_rate": state.output_sample_rate,
                        "channels": state.channels}  # fmt: skip
            case "session.end":
                return {"type": "session.ended", "reason": "client_ended"}
            case "error":
                return message
        return None


class ProtocolEvents(BaseObserver):
    """Sends the per-turn events and the latency waterfall (Parley's ``metrics`` fields, in ms
    from the moment the turn ended) from the frames it sees pass."""

    def __init__(self, config: Config, stop_secs: float) -> None:
        super().__init__(observe_every_push=False)
        self.config = config
        self.stop_secs = stop_secs
        self.worker: PipelineWorker | None = None
        self.turn = -1
        self._reset()

    def _reset(self) -> None:
        self.vad_stop: int | None = None
        self.transcript_at: int | None = None
        self.turn_end: int | None = None
        self.first_token: int | None = None
        self.first_tts: int | None = None
        self.first_audio: int | None = None

    async def send(self, type_: str, **fields: Any) -> None:
        if self.worker is not None:
            message = json.loads(event(type_, **fields))
            await self.worker.queue_frame(OutputTransportMessageUrgentFrame(message=message))

    async def on_push_frame(self, data: FramePushed) -> None:
        frame, at = data.frame, data.timestamp
        downstream = data.direction == FrameDirection.DOWNSTREAM
        if isinstance(frame, VADUserStoppedSpeakingFrame) and self.turn_end is None:
            self.vad_stop = self.vad_stop or at
        elif isinstance(frame, TranscriptionFrame):
            self.transcript_at = self.transcript_at or at
            await self.send("transcript.final", turn=self.turn + 1, text=frame.text)
        elif isinstance(frame, UserStoppedSpeakingFrame) and downstream:
            self.turn += 1
            self.turn_end = at
        elif isinstance(frame, LLMTextFrame) and self.turn_end and not self.first_token:
            self.first_token = at
        elif isinstance(frame, TTSAudioRawFrame) and self.turn_end and not self.first_tts:
            self.first_tts = at
        elif isinstance(frame, BotStartedSpeakingFrame) and downstream and self.turn_end:
            self.first_audio = self.first_audio or at
            await self.send("audio.start", turn=self.turn, sample_rate=0)
        elif isinstance(frame, BotStoppedSpeakingFrame) and downstream and self.first_audio:
            await self.send("audio.end", turn=self.turn)
            await self.send("metrics", **self.waterfall())
            self._reset()
        elif isinstance(frame, InterruptionFrame) and self.first_audio:
            await self.send("interrupted", turn=self.turn, played_text="", played_ms=0)
            await self.send("metrics", **self.waterfall())
            self._reset()
        elif isinstance(frame, ErrorFrame):
            await self.send("error", code="pipeline_error", message=str(frame.error), fatal=False)

    def waterfall(self) -> dict[str, Any]:
        def ms(at: int | None, since: int | None) -> float | None:
            return None if at is None or since is None else round((at - since) / 1e6, 1)

        # STT runs while the turn-stop strategy waits user_speech_timeout after the VAD stop;
        # only what it takes beyond that wait is on the critical path.
        heard = ms(self.transcript_at, self.vad_stop)
        stt_final = (
            None if heard is None else max(0.0, heard - self.config.user_speech_timeout_s * 1000)
        )
        first_audio = ms(self.first_audio, self.turn_end)
        return {
            "turn": self.turn,
            "stt_final_ms": stt_final,
            "llm_first_token_ms": ms(self.first_token, self.turn_end),
            "first_clause_ms": None,
            "tts_first_byte_ms": ms(self.first_tts, self.turn_end),
            "first_audio_ms": first_audio,
            "total_ms": first_audio,
            # The designed silence: VAD stop_secs, then the strategy's user_speech_timeout.
            "end_of_turn_wait_ms": round((self.stop_secs + self.config.user_speech_timeout_s)
                                         * 1000, 1),
            "vad_stop_to_turn_end_ms": ms(self.turn_end, self.vad_stop),
        }  # fmt: skip


def turn_strategies(config: Config) -> UserTurnStrategies:
    if config.turn == "smart":
        return UserTurnStrategies()  # Pipecat's defaults: VAD start, Smart Turn v3 stop
    stop = SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=config.user_speech_timeout_s)
    return UserTurnStrategies(stop=[stop])


async def search_knowledge(params: FunctionCallParams) -> None:
    await params.result_callback(NO_PASSAGE)


async def run_session(websocket: WebSocket, config: Config, http: aiohttp.ClientSession) -> None:
    serializer = ParleySerializer()
    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            audio_out_10ms_chunks=config.output_frame_ms // 10,
            serializer=serializer,
        ),
    )
    stt = GroqSTTService(api_key=config.stt_key, base_url=config.stt_url)
    llm = GroqLLMService(
        api_key=config.llm_key,
        base_url=config.llm_url,
        settings=GroqLLMService.Settings(
            model=config.llm_model, system_instruction=config.system_prompt
        ),
    )
    if config.tool:
        llm.register_function("search_knowledge", search_knowledge)
    tts = DeepgramHttpTTSService(
        api_key=config.tts_key, aiohttp_session=http, base_url=config.tts_url,
        settings=DeepgramHttpTTSService.Settings(voice=config.tts_voice),
    )  # fmt: skip
    vad = SileroVADAnalyzer(params=vad_params())
    context = (
        LLMContext(tools=ToolsSchema(standard_tools=[SEARCH_TOOL])) if config.tool else LLMContext()
    )
    aggregators = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            vad_analyzer=vad,
            user_turn_strategies=turn_strategies(config),
        ),
    )
    pipeline = Pipeline(
        [
            transport.input(),
            SessionReplies(serializer),
            stt,
            aggregators.user(),
            llm,
            tts,
            transport.output(),
            aggregators.assistant(),
        ]
    )
    events = ProtocolEvents(config, stop_secs=vad.params.stop_secs)
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=16_000, audio_out_sample_rate=24_000),
        observers=[events],
        enable_rtvi=False,
        idle_timeout_secs=None,
    )
    events.worker = worker

    @transport.event_handler("on_client_disconnected")
    async def _gone(_transport: Any, _ws: Any) -> None:
        await worker.cancel()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()


def create_app(config: Config) -> FastAPI:
    state: dict[str, aiohttp.ClientSession] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):  # type: ignore[no-untyped-def]
        # One pool for every session's TTS. aiohttp keeps idle connections 15 s, but the vendor
        # fakes' uvicorn closes them after 5 s, and a POST on a connection the server is closing
        # fails ("Can not write request body"); the real Deepgram keeps them longer. So that
        # this artefact of the fakes does not fail Pipecat's turns, idle ones go after 4 s.
        connector = aiohttp.TCPConnector(keepalive_timeout=4)
        async with aiohttp.ClientSession(connector=connector) as http:
            state["http"] = http
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.websocket("/v1/voice/ws")
    async def voice(websocket: WebSocket) -> None:
        await websocket.accept()
        await run_session(websocket, config, state["http"])

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", required=True, help="JSON file with the Config fields")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    with open(args.config) as f:
        config = Config(**json.load(f))
    logger.remove()  # Pipecat logs every frame at DEBUG; Parley runs at WARNING too
    logger.add(sys.stderr, level=args.log_level)
    uvicorn.run(
        create_app(config),
        host="127.0.0.1",
        port=args.port,
        log_level=args.log_level.lower(),
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
