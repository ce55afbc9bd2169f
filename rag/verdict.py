"""The model's own verdict on whether it answered, read from its streamed text.

A reply's ``answered`` flag feeds the "questions the knowledge base could not answer" view of
analytics, so it must be what the model concluded, not whether a search returned rows. The
model is told to put :data:`NO_ANSWER` in its reply when the knowledge base does not answer the
question; :class:`VerdictFilter` (sans I/O) removes the marker from the stream as it arrives, so
that it is never shown nor spoken, and remembers that it was there. A tool call would cost a
second model round trip before the first word; a marker costs a few tokens.
"""

from __future__ import annotations

NO_ANSWER = "[[no-answer]]"

INSTRUCTION = (
    f"- When the knowledge base does not answer the question, put {NO_ANSWER} at the very start "
    "of your reply, then say briefly that you do not know and offer what you can help with. "
    f"Never write {NO_ANSWER} when you did answer."
)


class VerdictFilter:
    """Feed text deltas, get back the text to show; :attr:`answered` after :meth:`finish`."""

    def __init__(self, marker: str = NO_ANSWER) -> None:
        self.marker = marker
        self.answered = True
        self._held = ""

    def feed(self, delta: str) -> str:
        text = self._held + delta
        self._held = ""
        while (index := text.find(self.marker)) >= 0:
            self.answered = False
            before, text = text[:index], text[index + len(self.marker) :]
            # At the start, the marker goes with the space after it; inside, it becomes a space.
            text = before.rstrip() + " " + text.lstrip() if before.strip() else text.lstrip()
        # Hold back a tail that could be the start of a marker split across deltas.
        for size in range(min(len(self.marker) - 1, len(text)), 0, -1):
            if self.marker.startswith(text[-size:]):
                self._held, text = text[-size:], text[:-size]
                break
        return text

    def finish(self) -> str:
        """The held-back tail, which turned out not to be a marker."""
        held, self._held = self._held, ""
        return held
