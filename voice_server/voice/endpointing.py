"""End of turn as a pipeline of evidence, not one silence timeout.

A fixed silence cannot both wait out the 350-700 ms pauses people make inside a question and
answer within half a second. So a short pause only *opens* a decision, and what was said so
far decides how long to go on waiting:

1. ``silence < open_ms``: the caller is still speaking (no decision yet).
2. The transcript ends mid-phrase ("... for a", "and", "um"): hold the turn open up to
   ``hold_ms``, the hard fallback (people do stop mid-phrase when they give up).
3. The transcript reads complete: end after ``complete_ms``.
4. No transcript that covers the latest speech yet (STT still busy): end after ``unknown_ms``.

Sans-I/O and per session (it records the rule that fired, for the turn's waterfall).
"""

from __future__ import annotations

import re
from typing import Final

# Words after which an English clause cannot end: conjunctions, prepositions, articles,
# possessives, auxiliaries and fillers. Chosen from the grammar, not from a test set.
_CONTINUATION_WORDS: Final = """
    a an the my your his her its our their this that these those some any every each no
    and or but so because if when while than as nor then also plus
    to of for from with without at by in on into onto about over under after before between
    through during like near around until via per
    is are was were be been am do does did have has had can could will would shall should may
    might must not
    i you we they he she it me
    um uh er erm hmm mm uhm
    very really quite just
"""
CONTINUATIONS: Final = frozenset(_CONTINUATION_WORDS.split())
_WORD = re.compile(r"[a-z']+")


def ends_mid_phrase(transcript: str) -> bool:
    """Does the transcript stop on a word that needs more after it?"""
    words = _WORD.findall(transcript.lower())
    return bool(words) and words[-1] in CONTINUATIONS


class EvidenceEndOfTurn:
    """:class:`~voice_server.voice.policies.EndOfTurnPolicy` from pause, transcript and a
    fallback; ``rule`` names what decided the last turn that ended."""

    def __init__(
        self, *, open_ms: int = 250, complete_ms: int = 500, unknown_ms: int = 700,
        hold_ms: int = 1500,
    ) -> None:  # fmt: skip
        if not open_ms <= complete_ms <= hold_ms or not open_ms <= unknown_ms <= hold_ms:
            raise ValueError("end of turn needs open_ms <= complete_ms, unknown_ms <= hold_ms")
        self.open_ms = open_ms
        self.complete_ms = complete_ms
        self.unknown_ms = unknown_ms
        self.hold_ms = hold_ms
        self.rule = ""

    def turn_ended(self, silence_ms: float, voiced_ms: float, hint: str) -> bool:
        rule = self.decide(silence_ms, hint)
        if rule is None:
            return False
        self.rule = rule
        return True

    def decide(self, silence_ms: float, hint: str) -> str | None:
        """The rule that ends the turn after ``silence_ms``, or None to keep listening."""
        if silence_ms < self.open_ms:
            return None
        if silence_ms >= self.hold_ms:
            return "fallback"
        if not hint.strip():
            return "no_transcript" if silence_ms >= self.unknown_ms else None
        if ends_mid_phrase(hint):
            return None  # held open until the fallback
        return "transcript_complete" if silence_ms >= self.complete_ms else None
