"""A streaming check of how deeply a JSON body nests, fed the body's chunks as they arrive.

Decoders recurse per level: msgspec and the standard library raise ``RecursionError`` on a body
of ``[[[[...`` a few thousand deep, and what they accept (up to about a thousand levels) still
reaches code that walks it recursively (``json.dumps`` of a config, PostgreSQL's jsonb). No real
request nests deeper than a handful of levels, so the kernel refuses deep bodies before any
decoder sees them. The scanner is sans-I/O (``feed(chunk)``), keeps three values of state across
chunks, and stops at the first level too deep, so a 10 MB bomb costs a few microseconds.

It only counts brackets outside strings; whether the body is valid JSON is the decoder's job.
"""

from __future__ import annotations

import re

_INTERESTING = re.compile(rb'[\[\]{}"\\]')


class TooDeep(ValueError):
    """The body nests deeper than allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the JSON body nests deeper than {limit} levels")
        self.limit = limit


class NestingGuard:
    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.depth = 0
        self._in_string = False
        self._escaped = False  # the previous chunk ended on a backslash inside a string

    def feed(self, chunk: bytes) -> None:
        """Account for the next bytes of the body; raises :class:`TooDeep`."""
        skip_to = 0
        if self._escaped and chunk:
            self._escaped, skip_to = False, 1
        for match in _INTERESTING.finditer(chunk, skip_to):
            position = match.start()
            if position < skip_to:
                continue  # the character after a backslash
            char = chunk[position]
            if self._in_string:
                if char == 0x22:  # "
                    self._in_string = False
                elif char == 0x5C:  # \ escapes the next byte, possibly in the next chunk
                    skip_to = position + 2
                    if skip_to > len(chunk):
                        self._escaped = True
            elif char == 0x22:
                self._in_string = True
            elif char in (0x5B, 0x7B):  # [ {
                self.depth += 1
                if self.depth > self.max_depth:
                    raise TooDeep(self.max_depth)
            elif char in (0x5D, 0x7D) and self.depth > 0:  # ] }
                self.depth -= 1
