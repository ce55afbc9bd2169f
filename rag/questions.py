"""Splitting a two-part question into its parts, so that each part gets its own search.

"What does the kayak rental cost, and do you open on Sundays?" needs two documents; one search
on the whole sentence tends to find passages for the more distinctive half only. Sans I/O and
deliberately conservative: a split happens at a question mark followed by more text, or at
"and"/"also"/"plus" (after a comma or not) followed by a question word, and only when both sides
have at least two content words. Anything else stays one question.
"""

from __future__ import annotations

import re

MAX_PARTS = 3

_QUESTION_WORDS = (
    r"what|when|where|which|who|whom|whose|why|how|do|does|did|is|are|was|were|can|could|"
    r"will|would|should|may|must|has|have"
)
_JOINER = re.compile(
    rf",?\s+(?:and|also|plus)\s+(?:also\s+)?(?=(?:{_QUESTION_WORDS})\b)", re.IGNORECASE
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_FILLER_WORDS = """a an the i we you it is are do does can what when where which who how and or to
    of for in on at my your our me us there this that they them it its"""
_FILLER = frozenset(_FILLER_WORDS.split())


def _content_words(text: str) -> int:
    return sum(1 for w in _WORD.findall(text.lower()) if w not in _FILLER)


def split_question(text: str) -> list[str]:
    """The question's parts (one element when it has one part)."""
    text = " ".join(text.split())
    pieces = [p.strip() for p in re.split(r"(?<=\?)\s+(?=\S)", text) if p.strip()]
    parts: list[str] = []
    for piece in pieces:
        parts.extend(p.strip(" ,") for p in _JOINER.split(piece) if p.strip(" ,"))
    if len(parts) < 2 or any(_content_words(p) < 2 for p in parts):
        return [text] if text else []
    return parts[:MAX_PARTS]
