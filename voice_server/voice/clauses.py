"""Cut a streamed reply into clauses that TTS can speak while the model keeps writing.

Sans-I/O: ``feed(delta)`` returns the clauses completed by that text, ``flush()`` the rest.
A sentence ends at ``.``, ``!``, ``?`` or ``…`` followed by white space (so "3.14" and URLs
never end one), unless the word before the dot is a known abbreviation ("Dr.", "e.g.") or an
initial ("J. R. R."). A sentence longer than ``long_clause_chars`` is also cut at a comma,
semicolon, colon or dash, and one with no punctuation at all at the last space before
``max_chars``, so that TTS never waits for a very long sentence to finish. The first clause of
a reply is cut at such a pause from ``first_clause_chars`` on: the caller hears the reply start
while the model is still writing the rest of its first sentence.
"""

from __future__ import annotations

import re

_ABBREVIATIONS_TEXT = """
mr mrs ms dr prof sr jr st mt vs etc e.g i.e eg ie approx dept est inc ltd corp fig vol p pp ch
sec jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k a.m p.m cf al ave blvd rd
"""
ABBREVIATIONS = frozenset(_ABBREVIATIONS_TEXT.split())

_SENTENCE_END = re.compile(r"([.!?…]+)([\"')\]]*)(\s+)")
_CLAUSE_BREAK = re.compile(r"([,;:]|\s[–—-])(\s+)")
_WORD_BEFORE = re.compile(r"([\w.]+)$")


class ClauseSplitter:
    def __init__(
        self, long_clause_chars: int = 80, max_chars: int = 250, first_clause_chars: int = 20
    ) -> None:
        self.long_clause_chars = long_clause_chars
        self.max_chars = max_chars
        self.first_clause_chars = first_clause_chars
        self._buffer = ""
        self._cuts = 0

    def feed(self, delta: str) -> list[str]:
        self._buffer += delta
        clauses: list[str] = []
        while (cut := self._next_cut()) is not None:
            clause, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:].lstrip()
            if clause:
                clauses.append(clause)
                self._cuts += 1
        return clauses

    def flush(self) -> list[str]:
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []

    def _next_cut(self) -> int | None:
        text = self._buffer
        early = self._early_break(text) if self._cuts == 0 else None
        for match in _SENTENCE_END.finditer(text):
            if match.group(1) == "." and self._is_abbreviation(text[: match.start(1)]):
                continue
            # When a whole reply arrives at once, the first pause may come before the first
            # sentence's end: the first clause still ends there.
            return min(match.end(3), early) if early is not None else match.end(3)
        if "\n" in text.strip():
            return text.index("\n", len(text) - len(text.lstrip())) + 1
        if early is not None:
            return early
        if len(text) >= self.long_clause_chars:
            breaks = [m.end(2) for m in _CLAUSE_BREAK.finditer(text) if m.end(2) >= 20]
            if breaks:
                return breaks[0]
        if len(text) >= self.max_chars:
            space = text.rfind(" ", 0, self.max_chars)
            return space + 1 if space > 0 else self.max_chars
        return None

    def _early_break(self, text: str) -> int | None:
        if len(text) < self.first_clause_chars:
            return None
        breaks = [m.end(2) for m in _CLAUSE_BREAK.finditer(text) if m.end(2) >= 20]
        return breaks[0] if breaks else None

    @staticmethod
    def _is_abbreviation(before: str) -> bool:
        match = _WORD_BEFORE.search(before)
        if match is None:
            return False
        word = match.group(1).lower()
        if word in ABBREVIATIONS:
            return True
        # An initial or a dotted acronym ("J.", "U.S"), but not a lone "I" ending a sentence.
        return bool(re.fullmatch(r"(?:[a-z]\.)*[a-z]", word)) and word != "i"
