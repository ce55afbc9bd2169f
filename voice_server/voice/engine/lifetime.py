"""How long a session may live: an idle timeout (no caller audio) and a maximum length."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from voice_server.voice.engine.clock import Clock

IDLE_REASON = "idle_timeout"
MAX_LENGTH_REASON = "max_duration"
MAX_LENGTH_NOTICE = "This call has reached its maximum length. Goodbye!"


@dataclass(frozen=True)
class Lifetime:
    """None: unbounded (tests, and transports that bound sessions themselves)."""

    idle_timeout_s: float | None = None
    max_length_s: float | None = None
    max_length_notice: str = MAX_LENGTH_NOTICE


async def watch(
    lifetime: Lifetime,
    clock: Clock,
    last_audio: Callable[[], float],
    on_idle: Callable[[], None],
    on_max_length: Callable[[], Awaitable[None]],
) -> None:
    """Sleep (on ``clock``) until the session is idle or at its maximum length, then act once."""
    idle, longest = lifetime.idle_timeout_s, lifetime.max_length_s
    deadline = None if longest is None else clock.now() + longest
    while True:
        now = clock.now()
        if deadline is not None and now >= deadline:
            await on_max_length()
            return
        idle_at = None if idle is None else last_audio() + idle
        if idle_at is not None and now >= idle_at:
            on_idle()
            return
        due = [t for t in (deadline, idle_at) if t is not None]
        if not due:
            return
        await clock.sleep(min(due) - now)
