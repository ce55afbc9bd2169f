"""The kernel's turn entry point and the runtime parts it is published with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

from voice_server.brain import (
    BotProfile,
    BrainEvent,
    BrainRequest,
    ChatMessage,
    ReplyDone,
    TextDelta,
)
from voice_server.errors import Forbidden, ServiceUnavailable
from voice_server.metrics import Metrics
from voice_server.principal import Principal
from voice_server.runtime import BRAIN, Runtime, Slot
from voice_server.settings import Settings
from voice_server.turns import ask, check_scope

BOT = BotProfile(
    id=uuid4(),
    tenant_id=uuid4(),
    name="Desk",
    system_prompt="Be brief.",
    greeting=None,
    language="en",
    config={},
)


class RecordingBrain:
    def __init__(self) -> None:
        self.requests: list[BrainRequest] = []

    async def reply(self, request: BrainRequest) -> AsyncIterator[BrainEvent]:
        self.requests.append(request)
        yield TextDelta("Nine to five.")
        yield ReplyDone(text="Nine to five.", model="scripted", answered=True)


async def test_ask_builds_the_one_request_and_streams_the_brain() -> None:
    brain = RecordingBrain()
    history = [ChatMessage("user", "Hello"), ChatMessage("assistant", "Hi")]
    conversation = uuid4()
    events = [
        e
        async for e in ask(
            brain, BOT, "When?", history=history, conversation_id=conversation, channel="voice"
        )
    ]
    assert events[-1] == ReplyDone(text="Nine to five.", model="scripted", answered=True)
    (request,) = brain.requests
    assert request == BrainRequest(
        bot=BOT,
        user_text="When?",
        history=tuple(history),
        conversation_id=conversation,
        channel="voice",
    )


def test_a_turn_needs_the_scope() -> None:
    principal = Principal(tenant_id=uuid4(), kind="secret_key", scopes=frozenset({"chat"}))
    check_scope(principal, "chat")
    with pytest.raises(Forbidden) as caught:
        check_scope(principal, "bots:read")
    assert caught.value.extensions["required_scope"] == "bots:read"


def _runtime() -> Runtime:
    return Runtime(Settings(_env_file=None), Metrics())  # type: ignore[call-arg]


def test_a_substitute_is_published_in_place_of_the_packages_part() -> None:
    runtime = _runtime()
    scripted, real = RecordingBrain(), RecordingBrain()
    runtime.substitute(BRAIN, scripted)
    with runtime.holding(BRAIN, real) as held:
        assert held is scripted
        assert runtime.get(BRAIN) is scripted
    with pytest.raises(ServiceUnavailable):
        runtime.get(BRAIN)  # gone with the lifespan that held it


def test_a_part_made_once_outlives_the_lifespan() -> None:
    runtime = _runtime()
    slot: Slot[list[int]] = Slot("counter")
    made: list[list[int]] = []

    def make() -> list[int]:
        made.append([len(made)])
        return made[-1]

    first = runtime.once(slot, make)
    assert runtime.once(slot, make) is first
    assert made == [[0]]
