"""What a voice session may still spend of its tenant's plan, and what one billed second is.

**A billed voice second.** Each stored turn bills the user's speech (from the moment the VAD
heard it start to the end of speech) plus the reply audio the listener actually heard
(``played_ms``: after a barge-in only the heard part), summed and rounded up to whole seconds
once per turn. Silence between turns, sounds too short to be a turn and turns in which nothing
was understood are not billed. The ledger records these seconds as kind ``voice_seconds``; the
plan's ``voice_minutes_per_month`` is their sum divided by 60 (billing.quota).

Voice reaches billing only through two protocols, injected at run time (so that
``voice_server`` never imports ``billing``): :class:`VoiceQuota` is the app's ``quota``
dependency, :class:`~voice_server.runtime.UsageRecorder` is ``billing.ledger.record_usage``,
which billing's lifespan publishes in the runtime's ``USAGE_RECORDER`` slot.

:class:`SessionAllowance` is the session's bookkeeping: the plan's seconds, minus what the
tenant's other sessions have recorded (known at admission, refreshed from the ledger as each turn
starts), minus what this session's turns billed, minus what the turn in flight has spoken so
far. The session stops taking new clauses once it is spent (the sentence being spoken finishes),
says the limit notice and ends.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from uuid import UUID

from voice_server.db.types import Connection
from voice_server.runtime import UsageRecorder
from voice_server.voice.protocol import ErrorEvent, error_event
from voice_server.voice.records import TurnRow

__all__ = ["UsageRecorder"]  # the contract with billing lives in the kernel (runtime)

_log = logging.getLogger("parley.voice")

QUOTA_EXCEEDED = "quota_exceeded"  # the error event's code, as in chat
END_REASON = "quota_exhausted"  # session.ended's reason when the allowance ran out


class QuotaAllowance(Protocol):
    """What billing's check returns (billing.quota.Allowance); voice seconds for voice."""

    @property
    def plan(self) -> str: ...

    @property
    def limit(self) -> float | None: ...

    @property
    def used(self) -> float: ...

    @property
    def remaining(self) -> float | None: ...


class VoiceQuota(Protocol):
    """The app's ``quota`` dependency, as voice uses it: raises ``QuotaExceeded`` (402)."""

    async def check(
        self,
        tenant_id: UUID,
        kind: Literal["voice_session"],
        amount: float = 1,
        *,
        conn: Connection | None = None,
    ) -> QuotaAllowance: ...

    async def voice_seconds_used(self, tenant_id: UUID, *, excluding_session: UUID) -> float: ...


def speech_seconds(turn: TurnRow) -> float:
    """How long the user spoke in ``turn``."""
    if turn.speech_started_at is None or turn.speech_ended_at is None:
        return 0.0
    return max(0.0, (turn.speech_ended_at - turn.speech_started_at).total_seconds())


def billed_seconds(turn: TurnRow) -> int:
    """The voice seconds ``turn`` bills: user speech + heard reply audio, rounded up."""
    spoken_ms = round(speech_seconds(turn) * 1000 + (turn.played_ms or 0.0))
    return math.ceil(spoken_ms / 1000)


def usage_key(session_id: UUID, ordinal: int) -> str:
    """The ledger's idempotency key of one turn: a replayed write records nothing twice."""
    return f"voice:{session_id}:{ordinal}"


@dataclass
class SessionAllowance:
    """The voice seconds one session may still spend (only for capped, unmetered plans)."""

    plan: str
    limit_s: float
    used_s: float  # the period's voice seconds of the tenant's other sessions (see refresh)
    notice: str  # spoken when the allowance runs out
    spent_s: float = 0.0  # billed by this session's recorded turns
    # The other sessions' seconds now, from the ledger (VoiceQuota.voice_seconds_used).
    others: Callable[[], Awaitable[float]] | None = None

    @classmethod
    def admitted(
        cls,
        allowance: QuotaAllowance,
        notice: str,
        others: Callable[[], Awaitable[float]] | None = None,
    ) -> SessionAllowance | None:
        """The bookkeeping for a session the quota check let in; None when nothing is capped."""
        if allowance.remaining is None or allowance.limit is None:
            return None
        return cls(allowance.plan, allowance.limit, allowance.used, notice, others=others)

    async def refresh(self) -> None:
        """Catch up with the tenant's other sessions (called as each turn starts, while the
        answer is being prepared); on failure the last known figure stands."""
        if self.others is None:
            return
        try:
            self.used_s = await self.others()
        except Exception as exc:  # a missed refresh only delays the cut-off by a turn
            _log.warning("voice allowance not refreshed: %r", exc)

    @property
    def remaining_s(self) -> float:
        return max(0.0, self.limit_s - self.used_s - self.spent_s)

    def spent(self, pending_s: float = 0.0) -> bool:
        """Whether nothing is left once the turn in flight, which has spoken ``pending_s`` so
        far, is billed (rounded up, as it will be)."""
        pending = math.ceil(round(pending_s * 1000) / 1000)
        return self.spent_s + pending >= self.limit_s - self.used_s

    def charge(self, turn: TurnRow) -> None:
        """A turn was recorded: its billed seconds are spent."""
        self.spent_s += billed_seconds(turn)

    def exhausted_event(self) -> dict[str, Any]:
        """The wire form of :meth:`exhausted_error`."""
        return self.exhausted_error().to_wire()

    def exhausted_error(self) -> ErrorEvent:
        """The ``error`` event sent when the session ends for lack of voice minutes."""
        limit_min = self.limit_s / 60
        used_min = round((self.used_s + self.spent_s) / 60, 2)
        return error_event(
            QUOTA_EXCEEDED,
            f"the {self.plan} plan's {limit_min:g} voice minutes of this period are used up",
            fatal=True,
            plan=self.plan,
            limit_name="voice_minutes_per_month",
            limit=limit_min,
            used=used_min,
            unit="minutes",
        )
