"""A bot's own model and temperature (``config.llm`` of the one bot-config schema).

The server's model (``PARLEY_LLM_MODEL`` / ``PARLEY_LLM_TEMPERATURE``) answers for every bot that
leaves ``llm.model`` and ``llm.temperature`` unset. A bot that sets either is answered by a copy
of the server's model with those two fields changed: the copy shares the vendor SDK client (one
connection pool, key, base URL, timeout and retries), and only the request's ``model`` and
``temperature`` differ. Brains are built once per (model, temperature) and kept in a small LRU,
since the agent compiles its graph per brain.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Callable

from langchain_core.language_models import BaseChatModel

from voice_server.bot_config import BotConfig
from voice_server.brain import Brain, BrainEvent, BrainRequest

BrainFactory = Callable[[BaseChatModel, str], Brain]  # (model, its name for ReplyDone) -> brain


class BotModelBrain:
    """Answers each request with the brain of the bot's model and temperature."""

    def __init__(
        self,
        model: BaseChatModel,
        *,
        provider: str,
        default_model: str,
        build: BrainFactory,
        cached: int = 16,
    ) -> None:
        self._model = model
        self._provider = provider
        self._default_model = default_model
        self._build = build
        self._cached = cached
        self._default = build(model, f"{provider}:{default_model}")
        self._brains: OrderedDict[tuple[str, float | None], Brain] = OrderedDict()

    def brain_for(self, config: BotConfig) -> Brain:
        name, temperature = config.llm.model, config.llm.temperature
        if name is None and temperature is None:
            return self._default
        key = (name or self._default_model, temperature)
        brain = self._brains.get(key)
        if brain is None:
            update: dict[str, object] = {"model_name": key[0]}
            if temperature is not None:
                update["temperature"] = temperature
            model = self._model.model_copy(update=update)
            brain = self._build(model, f"{self._provider}:{key[0]}")
            self._brains[key] = brain
            if len(self._brains) > self._cached:
                self._brains.popitem(last=False)
        else:
            self._brains.move_to_end(key)
        return brain

    def reply(self, request: BrainRequest) -> AsyncIterator[BrainEvent]:
        return self.brain_for(BotConfig.from_stored(request.bot.config)).reply(request)
