"""The one bot-config schema: what ``bots.config`` (jsonb) holds, written by the dashboard and read
by voice and chat.

Each concept has one name. Older names are accepted where owners write them and normalized on
write (:mod:`dashboard_api.bots`); rows stored under them are migrated by
``0320_bot_config_names.sql``, and :meth:`BotConfig.from_stored` still understands them, so a row
written by an older server never silently loses a setting:

    old name                               one name
    voice.voice                            voice.voice_id
    end_of_turn_silence_ms (top level)     voice.end_of_turn_silence_ms

``None`` everywhere means "the server's setting" (``PARLEY_LLM_MODEL``, ``PARLEY_VOICE_*``), so a
bot follows the operator's tuning until its owner overrides a knob. Bounds live here and only
here: the dashboard rejects a value out of them with a 400 naming the field, and a stored value
out of them (written by hand, or by an older version) is ignored with a warning, never a failed
call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta

_log = logging.getLogger("parley.bots")

Colour = Annotated[str, Meta(pattern=r"^#[0-9a-fA-F]{6}$", examples=["#4f46e5"])]
ShortText = Annotated[str, Meta(max_length=200)]
ModelName = Annotated[
    str, Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")
]
Temperature = Annotated[float, Meta(ge=0, le=2)]
Rate = Annotated[float, Meta(ge=0.5, le=2.0, description="1.0 is normal")]
KnowledgeScope = Literal["tenant", "bot"]
StarterQuestions = Annotated[
    list[Annotated[str, Meta(min_length=1, max_length=300)]], Meta(max_length=10)
]
Origins = Annotated[list[Annotated[str, Meta(max_length=300)]], Meta(max_length=50)]


EndOfTurnMs = Annotated[int, Meta(ge=200, le=5000, description="silence that ends a turn (ms)")]
SpeechStartMs = Annotated[int, Meta(ge=10, le=2000, description="voiced audio that starts speech")]
MinUtteranceMs = Annotated[int, Meta(ge=0, le=5000, description="shorter utterances are noise")]
PreRollMs = Annotated[int, Meta(ge=0, le=1000, description="audio kept before speech starts")]
ChunkPauseMs = Annotated[int, Meta(ge=40, le=2000, description="inner pause that cuts a chunk")]
BargeInMs = Annotated[int, Meta(ge=0, le=5000, description="user speech that interrupts the bot")]


class LlmConfig(msgspec.Struct, forbid_unknown_fields=True):
    """The language model of the bot's answers (text and voice)."""

    model: ModelName | None = None  # None: PARLEY_LLM_MODEL
    temperature: Temperature | None = None  # None: PARLEY_LLM_TEMPERATURE


class BotVoice(msgspec.Struct, forbid_unknown_fields=True):
    """The bot's voice and turn-taking; each knob overrides its ``PARLEY_VOICE_*`` setting."""

    voice_id: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    speed: Rate | None = None
    pitch: Rate | None = None
    end_of_turn_silence_ms: EndOfTurnMs | None = None
    vad_aggressiveness: Annotated[int, Meta(ge=0, le=3)] | None = None
    speech_start_ms: SpeechStartMs | None = None
    min_utterance_ms: MinUtteranceMs | None = None
    pre_roll_ms: PreRollMs | None = None
    chunk_pause_ms: ChunkPauseMs | None = None
    barge_in_min_ms: BargeInMs | None = None
    vad: Literal["webrtc", "silero"] | None = None
    end_of_turn: Literal["silence", "evidence"] | None = None
    end_of_turn_open_ms: Annotated[int, Meta(ge=100, le=2000)] | None = None
    end_of_turn_complete_ms: Annotated[int, Meta(ge=100, le=5000)] | None = None
    end_of_turn_hold_ms: Annotated[int, Meta(ge=200, le=10000)] | None = None


class Appearance(msgspec.Struct, forbid_unknown_fields=True):
    """How the widget looks; public (the widget reads it with a publishable key)."""

    title: ShortText = ""  # the name in the widget's header; empty: the bot's name
    primary_color: Colour = "#4f46e5"
    text_color: Colour = "#ffffff"
    position: Literal["bottom-right", "bottom-left"] = "bottom-right"
    avatar_url: Annotated[str, Meta(max_length=2000, pattern=r"^https?://")] | None = None
    launcher_text: ShortText = "Talk to us"


class BotRecording(msgspec.Struct, forbid_unknown_fields=True):
    """Call recording, opt-in (voice_server.voice.recording): both sides of each voice call in
    one Ogg/Opus file, caller left and bot right ("stereo") or one channel ("mixed")."""

    enabled: bool = False
    layout: Literal["stereo", "mixed"] = "stereo"


class BotConfig(msgspec.Struct, forbid_unknown_fields=True):
    """Everything of a bot that is not a column (``name``, ``system_prompt``, ``greeting`` and
    ``language`` are columns)."""

    starter_questions: StarterQuestions = msgspec.field(default_factory=list)
    llm: LlmConfig = msgspec.field(default_factory=LlmConfig)
    voice: BotVoice = msgspec.field(default_factory=BotVoice)
    # "tenant": the bot answers from every document of the tenant that is not attached to
    # another bot; "bot": only from documents attached to this bot (rag.retriever enforces it).
    knowledge_scope: KnowledgeScope = "tenant"
    appearance: Appearance = msgspec.field(default_factory=Appearance)
    allowed_origins: Origins = msgspec.field(default_factory=list)
    recording: BotRecording = msgspec.field(default_factory=BotRecording)

    @classmethod
    def from_stored(cls, raw: Mapping[str, Any] | None) -> BotConfig:
        """Read a stored ``bots.config``: old names understood, unknown keys dropped, and each
        value out of bounds replaced by its default (logged), so a call never fails on it."""
        data = normalize_names(dict(raw or {}))
        return _lenient(cls, data, "config")

    def to_stored(self) -> dict[str, Any]:
        stored: dict[str, Any] = msgspec.to_builtins(self)
        return stored


def normalize_names(data: dict[str, Any]) -> dict[str, Any]:
    """Move old names to the one name (the one name wins when both are present)."""
    voice = data.get("voice")
    voice = dict(voice) if isinstance(voice, Mapping) else {}
    if "voice" in voice:
        old = voice.pop("voice")
        if voice.get("voice_id") is None:
            voice["voice_id"] = old
    voice.pop("provider", None)  # never used: the server's providers are the bot's
    if "end_of_turn_silence_ms" in data:
        old = data.pop("end_of_turn_silence_ms")
        if voice.get("end_of_turn_silence_ms") is None:
            voice["end_of_turn_silence_ms"] = old
    if voice or "voice" in data:
        data["voice"] = voice
    return data


T = TypeVar("T", bound=msgspec.Struct)


def _lenient(kind: type[T], data: Mapping[str, Any], where: str) -> T:
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError:
        pass
    # Field by field: every field has a default, so each can be checked on its own.
    kept: dict[str, Any] = {}
    for name in kind.__struct_fields__:
        if name not in data:
            continue
        value = data[name]
        default = getattr(kind(), name)
        if isinstance(default, msgspec.Struct) and isinstance(value, Mapping):
            kept[name] = _lenient(type(default), value, f"{where}.{name}")
            continue
        try:
            msgspec.convert({name: value}, kind)
        except msgspec.ValidationError as exc:
            _log.warning("ignoring stored bot setting %s.%s=%r: %s", where, name, value, exc)
            continue
        kept[name] = value
    return msgspec.convert(kept, kind, from_attributes=False)
