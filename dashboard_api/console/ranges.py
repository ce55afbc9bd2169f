"""HTTP Range requests for one byte range (what audio players send); pure."""

from __future__ import annotations

from voice_server.errors import ParleyError


class RangeNotSatisfiable(ParleyError):
    status = 416
    slug = "range-not-satisfiable"
    title = "Range not satisfiable"


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive for ``Range: bytes=a-b`` / ``a-`` / ``-n``; None for the whole
    file (no header, or several ranges, which we answer whole as RFC 9110 allows)."""
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    start_text, dash, end_text = spec.strip().partition("-")
    if not dash:
        raise RangeNotSatisfiable("the Range header is malformed", size=size)
    try:
        if not start_text:  # the last n bytes
            suffix = int(end_text)
            if suffix <= 0:
                raise ValueError
            return max(0, size - suffix), size - 1
        start = int(start_text)
        end = int(end_text) if end_text else size - 1
    except ValueError:
        raise RangeNotSatisfiable("the Range header is malformed", size=size) from None
    if start < 0 or start >= size or end < start:
        raise RangeNotSatisfiable(f"the file has {size} bytes", size=size)
    return start, min(end, size - 1)
