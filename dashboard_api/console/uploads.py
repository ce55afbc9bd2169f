"""Several files in one multipart form, read as a stream: each file is handed on as soon as it
is complete (one file in memory at a time), each is capped, and so is their number. The CSRF
field must come before the first file, so nothing is stored for a forged form."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from multipart import (  # type: ignore[import-untyped]
    MultipartError,
    MultipartSegment,
    PushMultipartParser,
)

from voice_server.errors import InvalidInput, PayloadTooLarge

FIELD_LIMIT = 10_000
MAX_FILES = 20


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    data: bytes


async def read_files(
    chunks: AsyncIterator[bytes],
    boundary: str,
    *,
    max_file_bytes: int,
    before_first_file: Callable[[dict[str, str]], Awaitable[None]],
    on_file: Callable[[UploadedFile, dict[str, str]], Awaitable[None]],
) -> dict[str, str]:
    """Feed the body to ``on_file`` file by file; returns the plain fields."""
    fields: dict[str, str] = {}
    segment: MultipartSegment | None = None
    buffer = bytearray()
    files = 0
    checked = False
    try:
        with PushMultipartParser(boundary, max_segment_count=MAX_FILES + 10) as parser:
            async for chunk in chunks:
                if not chunk:
                    continue
                for event in parser.parse(chunk):
                    if isinstance(event, MultipartSegment):
                        segment, buffer = event, bytearray()
                        if segment.filename is not None and not checked:
                            await before_first_file(fields)
                            checked = True
                    elif event is None and segment is not None:
                        if segment.filename is not None:
                            if segment.filename or buffer:  # an empty file input sends ""
                                files += 1
                                if files > MAX_FILES:
                                    raise InvalidInput(f"at most {MAX_FILES} files at once")
                                await on_file(UploadedFile(segment.filename, bytes(buffer)), fields)
                        else:
                            fields[segment.name] = buffer.decode("utf-8", "replace")
                        segment, buffer = None, bytearray()
                    elif segment is not None:
                        buffer += event
                        cap = max_file_bytes if segment.filename is not None else FIELD_LIMIT
                        if len(buffer) > cap:
                            raise PayloadTooLarge(
                                f"{segment.filename or segment.name} is larger than {cap} bytes",
                                limit_bytes=cap,
                            )
    except MultipartError as exc:
        raise InvalidInput(f"malformed upload ({exc})") from None
    if not checked:
        await before_first_file(fields)
    return fields
