"""The app's long-lived parts in one typed object, instead of ``app.state`` string keys.

The composition root (``voice_server.app``) builds one :class:`Runtime` per app and opens the
database and each package's lifespan with it. A package publishes what it runs under a typed
:class:`Slot` (``runtime.holding(SLOT, value)`` for the lifespan's duration) and hands it to
handlers with :func:`provide`, which answers 503 while the part is starting or stopping. Slots
that cross packages (the brain, the usage recorder, the database) are declared here, in the
kernel, so no package imports another to find them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar
from uuid import UUID

from litestar import Litestar
from litestar.di import NamedDependency, Provide
from litestar.params import SkipValidation

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
        kind: Literal["voice_seconds", "message"],
        quantity: float | int | Decimal,
        idempotency_key: str,
        *,
        bot_id: UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> bool: ...


class VisitorLeases(Protocol):
    """The accounts package's hold on a widget visitor's voice sessions (one slot per open
    session, taken when the visitor's token is redeemed). A transport whose call outlives the
    request that started it (WebRTC signalling) takes the connection's leases and releases
    them when the call ends, without importing the accounts package."""

    def take(self, scope: Any) -> Callable[[], Awaitable[None]] | None:
        """The connection's leases, now the caller's: a function that frees them (call it
        once, as the call ends), or None when the connection holds none."""
        ...


class VisitorMessages(Protocol):
    """The accounts package's per-visitor message cap (messages per visitor per bot per hour).
    HTTP chat counts each request as it authenticates; a chat socket authenticates once and
    counts each message it carries through this."""

    async def count(self, scope: Any, bot_id: UUID) -> None:
        """Count one message a widget visitor sends to ``bot_id`` over the connection ``scope``;
        raises RateLimited when the visitor's hourly allowance is spent."""
        ...


DATABASE: Slot[Database] = Slot("database")
BRAIN: Slot[Brain] = Slot("brain", "the knowledge service is starting or stopping; retry shortly")
USAGE_RECORDER: Slot[UsageRecorder] = Slot("usage recorder")
VISITOR_LEASES: Slot[VisitorLeases] = Slot("visitor leases")
VISITOR_MESSAGES: Slot[VisitorMessages] = Slot("visitor messages")


class Runtime:
    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self._parts: dict[Slot[Any], Any] = {}
        self._substitutes: dict[Slot[Any], Any] = {}
        self._kept: dict[Slot[Any], Any] = {}

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

    def once(self, slot: Slot[T], make: Callable[[], T]) -> T:
        """The part ``make`` builds the first time it is asked for, kept for the runtime's life
        (e.g. metrics registered on the app's registry, which refuses a second registration when
        a lifespan runs again)."""
        if slot not in self._kept:
            self._kept[slot] = make()
        value: T = self._kept[slot]
        return value

    def substitute(self, slot: Slot[T], value: T) -> None:
        """Publish ``value`` in ``slot`` in place of whatever its package will hold there (tests
        and embedders: a scripted brain, say). Call it before the app starts; the package's
        lifespan still runs, and builds on the substitute (``holding`` returns it)."""
        self._substitutes[slot] = value

    @contextmanager
    def holding(self, slot: Slot[T], value: T) -> Iterator[T]:
        """Publish ``value`` (or its substitute) in ``slot`` for the ``with`` block; the ``as``
        target is what was published."""
        value = self._substitutes.get(slot, value)
        self._parts[slot] = value
        try:
            yield value
        finally:
            self._parts.pop(slot, None)


def provide(slot: Slot[T]) -> Provide:
    """A Litestar dependency on ``slot`` (the app provides ``runtime`` itself)."""

    def dependency(runtime: NamedDependency[SkipValidation[Runtime]]) -> Any:
        return runtime.get(slot)

    return Provide(dependency, sync_to_thread=False)


def runtime_of(app: Litestar) -> Runtime:
    """The app's runtime, for lifespans (handlers take the ``runtime`` dependency instead). The
    composition root puts it there; this and :func:`runtime_if_any` are the places that read it."""
    runtime: Runtime = app.state["runtime"]
    return runtime


def runtime_if_any(app: Litestar) -> Runtime | None:
    """The app's runtime, or None in an app built without one (a package's routes mounted
    alone): for request-wide code that falls back to defaults."""
    runtime: Runtime | None = app.state.get("runtime")
    return runtime
