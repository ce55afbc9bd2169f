"""The shape of a bot as the API reads and writes it (validated by msgspec at the edge).

``name``, ``system_prompt``, ``greeting`` and ``language`` are columns; everything else lives in
the ``config`` jsonb column under the same names, so voice and chat read one dict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, Meta, UnsetType

Colour = Annotated[str, Meta(pattern=r"^#[0-9a-fA-F]{6}$", examples=["#4f46e5"])]
ShortText = Annotated[str, Meta(max_length=200)]
LongText = Annotated[str, Meta(max_length=20_000)]
Language = Annotated[str, Meta(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$", examples=["en"])]


class LlmSettings(msgspec.Struct, forbid_unknown_fields=True):
    model: Annotated[str, Meta(max_length=200)] | None = None  # None: the server's default
    temperature: Annotated[float, Meta(ge=0, le=2)] = 0.3


class VoiceSettings(msgspec.Struct, forbid_unknown_fields=True):
    provider: Annotated[str, Meta(max_length=50)] | None = None  # None: the server's default
    voice_id: Annotated[str, Meta(max_length=200)] | None = None
    speed: Annotated[float, Meta(ge=0.5, le=2.0)] = 1.0
    pitch: Annotated[float, Meta(ge=0.5, le=2.0)] = 1.0


class Appearance(msgspec.Struct, forbid_unknown_fields=True):
    primary_color: Colour = "#4f46e5"
    text_color: Colour = "#ffffff"
    position: Literal["bottom-right", "bottom-left"] = "bottom-right"
    title: ShortText = ""
    avatar_url: Annotated[str, Meta(max_length=2000, pattern=r"^https?://")] | None = None
    launcher_text: ShortText = "Talk to us"


StarterQuestions = Annotated[
    list[Annotated[str, Meta(min_length=1, max_length=300)]], Meta(max_length=10)
]
Origins = Annotated[list[Annotated[str, Meta(max_length=300)]], Meta(max_length=50)]
Silence = Annotated[int, Meta(ge=200, le=5000, description="ms of silence that end a turn")]
KnowledgeScope = Literal["tenant", "bot"]


class BotCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    system_prompt: LongText = ""
    greeting: Annotated[str, Meta(max_length=2000)] = ""
    language: Language = "en"
    starter_questions: StarterQuestions = msgspec.field(default_factory=list)
    llm: LlmSettings = msgspec.field(default_factory=LlmSettings)
    voice: VoiceSettings = msgspec.field(default_factory=VoiceSettings)
    end_of_turn_silence_ms: Silence = 700
    # "tenant": every document of the tenant; "bot": only documents attached to this bot.
    knowledge_scope: KnowledgeScope = "tenant"
    appearance: Appearance = msgspec.field(default_factory=Appearance)
    allowed_origins: Origins = msgspec.field(default_factory=list)


class BotUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """PATCH: only the fields present change; nested objects are replaced whole."""

    name: Annotated[str, Meta(min_length=1, max_length=200)] | UnsetType = UNSET
    system_prompt: LongText | UnsetType = UNSET
    greeting: Annotated[str, Meta(max_length=2000)] | UnsetType = UNSET
    language: Language | UnsetType = UNSET
    starter_questions: StarterQuestions | UnsetType = UNSET
    llm: LlmSettings | UnsetType = UNSET
    voice: VoiceSettings | UnsetType = UNSET
    end_of_turn_silence_ms: Silence | UnsetType = UNSET
    knowledge_scope: KnowledgeScope | UnsetType = UNSET
    appearance: Appearance | UnsetType = UNSET
    allowed_origins: Origins | UnsetType = UNSET


class BotOut(msgspec.Struct):
    id: UUID
    name: str
    system_prompt: str
    greeting: str
    language: str
    starter_questions: list[str]
    llm: LlmSettings
    voice: VoiceSettings
    end_of_turn_silence_ms: int
    knowledge_scope: str
    appearance: Appearance
    allowed_origins: list[str]
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
    "end_of_turn_silence_ms",
    "knowledge_scope",
    "appearance",
    "allowed_origins",
)
