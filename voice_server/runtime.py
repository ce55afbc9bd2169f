"""The app's long-lived parts in one typed object, instead of ``app.state`` string keys.

The composition root (``voice_server.app``) builds one :class:`Runtime` per app and opens the
database and each package's lifespan with it. A package publishes what it runs under a typed
:class:`Slot` (``runtime.holding(SLOT, value)`` for the lifespan's duration) and hands it to
handlers with :func:`provide`, which answers 503 while the part is starting or stopping. Slots
that cross packages (the brain, the usage recorder, the database) are declared here, in the
kernel, so no package imports another to find them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar
from uuid import UUID

from litestar import Litestar
from litestar.di import Provide

from voice_server.brain import Brain
from voice_server.db.types import Connection
from voice_server.errors import ServiceUnavailable
from voice_server.metrics import Metrics
from voice_server.settings import Settings

if TYPE_CHECKING:
    from voice_server.db import Database

T = TypeVar("T")

STARTING = "the server is starting or stopping; retry shortly"


@dataclass(frozen=True, eq=False)
class Slot(Generic[T]):
    """A typed place in the runtime; identity is the slot object, ``name`` is for messages."""

    name: str
    unavailable: str = STARTING


class UsageRecorder(Protocol):
    """Billing's ledger (``billing.ledger.record_usage``): records once per key, in the caller's
    transaction. Voice records each turn's seconds with it, without importing billing."""

    async def __call__(
        self,
        conn: Connection,
        tenant_id: UUID,
        kind: Literal["voice_seconds"],
        quantity: float | int | Decimal,
        idempotency_key: str,
        *,
        bot_id: UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> bool: ...


DATABASE: Slot[Database] = Slot("database")
BRAIN: Slot[Brain] = Slot("brain", "the knowledge service is starting or stopping; retry shortly")
USAGE_RECORDER: Slot[UsageRecorder] = Slot("usage recorder")


class Runtime:
    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self._parts: dict[Slot[Any], Any] = {}

    def get(self, slot: Slot[T]) -> T:
        """The part, or 503 while it is starting or stopping."""
        if slot not in self._parts:
            raise ServiceUnavailable(slot.unavailable)
        value: T = self._parts[slot]
        return value

    def find(self, slot: Slot[T]) -> T | None:
        """The part, or None when it does not run (an optional package)."""
        value: T | None = self._parts.get(slot)
        return value

    @contextmanager
    def holding(self, slot: Slot[T], value: T) -> Iterator[T]:
        """Publish ``value`` in ``slot`` for the ``with`` block."""
        self._parts[slot] = value
        try:
            yield value
        finally:
            self._parts.pop(slot, None)


def provide(slot: Slot[T]) -> Provide:
    """A Litestar dependency on ``slot`` (the app provides ``runtime`` itself)."""

    def dependency(runtime: Any) -> Any:
        return runtime.get(slot)

    return Provide(dependency, sync_to_thread=False)


def runtime_of(app: Litestar) -> Runtime:
    """The app's runtime, for lifespans (handlers take the ``runtime`` dependency instead). The
    composition root puts it there; this is the one place that reads it."""
    runtime: Runtime = app.state["runtime"]
    return runtime
