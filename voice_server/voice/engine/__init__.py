"""The voice engine: one turn engine behind a transport interface.

- :class:`Transport` (``transport``): what a connection to the caller implements.
- :class:`TurnRunner` (``runner``): brain → clauses → TTS → pacer for one reply, retry and
  apology; :class:`Engines` are the vendors it talks to.
- :class:`TurnBudget` (``budget``): the plan's voice time, as a reply spends it.
- :class:`Listener` (``listener``): audio → VAD → turn events, with injected :class:`TurnTaking`.
- :class:`Outbox`, :class:`Recorder`, :func:`play_out`: the writer, the store writes, the one
  playback loop. :class:`Clock` is injected everywhere time is read or waited on.

``voice_server.voice.session.VoiceSession`` supervises these for one call, and
``voice_server.voice.calls`` admits and opens calls for any transport.
"""

from voice_server.voice.engine.budget import TurnBudget
from voice_server.voice.engine.clock import Clock, SystemClock
from voice_server.voice.engine.lifetime import Lifetime
from voice_server.voice.engine.listener import Listener, SessionOverflow, TurnTaking
from voice_server.voice.engine.outbox import Outbox
from voice_server.voice.engine.playout import play_out
from voice_server.voice.engine.recorder import Recorder
from voice_server.voice.engine.runner import Engines, TurnRunner
from voice_server.voice.engine.transport import Transport

__all__ = [
    "Clock",
    "Engines",
    "Lifetime",
    "Listener",
    "Outbox",
    "Recorder",
    "SessionOverflow",
    "SystemClock",
    "Transport",
    "TurnBudget",
    "TurnRunner",
    "TurnTaking",
    "play_out",
]
