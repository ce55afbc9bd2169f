"""The turn budget: how much a reply may still say before the plan's voice time runs out.

A thin view of :class:`~voice_server.voice.allowance.SessionAllowance` (the billing side's
bookkeeping) in the terms of a turn in flight: the user's speech plus the reply audio pushed so
far. No allowance (billing absent, or an uncapped plan) means an unlimited budget.
"""

from __future__ import annotations

from collections.abc import Awaitable

from voice_server.voice.allowance import SessionAllowance, speech_seconds
from voice_server.voice.protocol import ErrorEvent
from voice_server.voice.store import TurnRow


class TurnBudget:
    def __init__(self, allowance: SessionAllowance | None, output_rate: int) -> None:
        self.allowance = allowance
        self._rate = output_rate

    @property
    def capped(self) -> bool:
        return self.allowance is not None

    @property
    def notice(self) -> str:
        return self.allowance.notice if self.allowance is not None else ""

    def refresh(self) -> Awaitable[None] | None:
        """Catch up with the tenant's other sessions (None: nothing to catch up with)."""
        if self.allowance is None or self.allowance.others is None:
            return None
        return self.allowance.refresh()

    def spent(self, row: TurnRow, pushed_samples: int) -> bool:
        """Whether the time runs out with what this turn has spoken so far."""
        if self.allowance is None:
            return False
        return self.allowance.spent(speech_seconds(row) + pushed_samples / self._rate)

    def charge(self, row: TurnRow) -> None:
        if self.allowance is not None:
            self.allowance.charge(row)

    def exhausted_event(self) -> ErrorEvent:
        assert self.allowance is not None
        return self.allowance.exhausted_error()
