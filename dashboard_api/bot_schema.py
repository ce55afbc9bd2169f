"""The shape of a bot as the API reads and writes it (validated by msgspec at the edge).

``name``, ``system_prompt``, ``greeting`` and ``language`` are columns; everything else is the
one bot-config schema (:class:`voice_server.bot_config.BotConfig`), stored in the ``config``
jsonb column and read by voice and chat. Two older names are still accepted on write and
normalized (:mod:`dashboard_api.bots`): ``voice.voice`` for ``voice.voice_id`` and a top-level
``end_of_turn_silence_ms`` for ``voice.end_of_turn_silence_ms``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import UNSET, Meta, UnsetType

from voice_server.bot_config import (
    Appearance,
    BotRecording,
    BotVoice,
    KnowledgeScope,
    LlmConfig,
    Origins,
    StarterQuestions,
)

LongText = Annotated[str, Meta(max_length=20_000)]
Language = Annotated[str, Meta(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$", examples=["en"])]
Greeting = Annotated[
    str, Meta(max_length=2000, description="said first when a voice call starts; empty: nothing")
]
OldVoiceName = Annotated[
    str, Meta(min_length=1, max_length=200, description="deprecated: use `voice_id`")
]
OldSilence = Annotated[
    int, Meta(ge=200, le=5000, description="deprecated: use `voice.end_of_turn_silence_ms`")
]


class VoiceSettings(BotVoice, forbid_unknown_fields=True):
    """``BotVoice`` as written: also takes the old name ``voice`` (normalized to ``voice_id``)."""

    voice: OldVoiceName | UnsetType = UNSET


class BotCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    system_prompt: LongText = ""
    greeting: Greeting = ""
    language: Language = "en"
    starter_questions: StarterQuestions = msgspec.field(default_factory=list)
    llm: LlmConfig = msgspec.field(default_factory=LlmConfig)
    voice: VoiceSettings = msgspec.field(default_factory=VoiceSettings)
    # "tenant": every document of the tenant; "bot": only documents attached to this bot.
    knowledge_scope: KnowledgeScope = "tenant"
    appearance: Appearance = msgspec.field(default_factory=Appearance)
    allowed_origins: Origins = msgspec.field(default_factory=list)
    recording: BotRecording = msgspec.field(default_factory=BotRecording)
    end_of_turn_silence_ms: OldSilence | UnsetType = UNSET


class BotUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """PATCH: only the fields present change; nested objects are replaced whole (except that
    the old top-level ``end_of_turn_silence_ms`` changes only that knob of ``voice``)."""

    name: Annotated[str, Meta(min_length=1, max_length=200)] | UnsetType = UNSET
    system_prompt: LongText | UnsetType = UNSET
    greeting: Greeting | UnsetType = UNSET
    language: Language | UnsetType = UNSET
    starter_questions: StarterQuestions | UnsetType = UNSET
    llm: LlmConfig | UnsetType = UNSET
    voice: VoiceSettings | UnsetType = UNSET
    knowledge_scope: KnowledgeScope | UnsetType = UNSET
    appearance: Appearance | UnsetType = UNSET
    allowed_origins: Origins | UnsetType = UNSET
    recording: BotRecording | UnsetType = UNSET
    end_of_turn_silence_ms: OldSilence | UnsetType = UNSET


class BotOut(msgspec.Struct):
    id: UUID
    name: str
    system_prompt: str
    greeting: str
    language: str
    starter_questions: list[str]
    llm: LlmConfig
    voice: BotVoice
    knowledge_scope: str
    appearance: Appearance
    allowed_origins: list[str]
    recording: BotRecording
    created_at: datetime
    updated_at: datetime


class BotPage(msgspec.Struct):
    items: list[BotOut]
    next_cursor: str | None


COLUMN_FIELDS = ("name", "system_prompt", "greeting", "language")
CONFIG_FIELDS = (
    "starter_questions",
    "llm",
    "voice",
    "knowledge_scope",
    "appearance",
    "allowed_origins",
    "recording",
)
