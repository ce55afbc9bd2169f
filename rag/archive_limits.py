"""Bounds for ZIP-based documents (DOCX today; XLSX, PPTX, EPUB and ZIPs inside them alike).

A ZIP says how big its members are, and a bomb is a few megabytes that say (or hide) gigabytes.
Two checks, both before a parser inflates anything:

- :func:`check_declared` reads only the directory: the member count (from the end record, so a
  million-entry directory is never parsed into objects), the declared total, and each member's
  compression ratio. It is cheap enough for the upload request (in a worker thread).
- :func:`check_inflated` inflates every member as a stream, 64 KiB at a time, and counts the
  bytes that actually come out against the same hard cap, so an archive that lies about its
  sizes stops at the cap, not at the end of memory. ZIPs inside the archive (embedded
  workbooks, a zip of zips) are checked the same way, against the same budget, to a fixed depth.

Both raise :class:`rag.errors.ArchiveTooLarge` (or :class:`IngestionError` for a broken file).
"""

from __future__ import annotations

import io
import struct
import zipfile
from dataclasses import dataclass

from rag.errors import ArchiveTooLarge, IngestionError

ZIP_MAGIC = b"PK\x03\x04"
_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_READ = 64 * 1024
RATIO_FLOOR_BYTES = 1_000_000  # tiny members may compress 1000:1 honestly (empty XML parts)
MAX_NESTING = 2  # an archive inside an archive inside the document; deeper is refused


@dataclass(frozen=True)
class ZipLimits:
    max_unpacked_bytes: int = 200_000_000
    max_ratio: float = 100.0
    max_members: int = 10_000


def is_zip(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


def member_count(data: bytes) -> int:
    """The entry count from the end-of-central-directory record, without parsing the directory."""
    tail_start = max(0, len(data) - (65_535 + _EOCD_SIZE))
    at = data.rfind(_EOCD, tail_start)
    if at < 0 or at + _EOCD_SIZE > len(data):
        raise IngestionError("the ZIP archive is damaged (no end of central directory)")
    (entries,) = struct.unpack_from("<H", data, at + 10)
    if entries == 0xFFFF or data.rfind(_ZIP64_LOCATOR, max(0, at - 20), at) >= 0:
        # ZIP64: the real count is in a 64-bit record; no document needs 65,535 parts.
        raise ArchiveTooLarge("the document is a ZIP64 archive; save it again as a plain file")
    return int(entries)


def check_declared(data: bytes, limits: ZipLimits, *, _depth: int = 0) -> int:
    """Refuse an archive whose directory declares too much; returns the declared total."""
    count = member_count(data)
    if count > limits.max_members:
        raise ArchiveTooLarge(
            f"the document's archive holds {count} parts; the limit is {limits.max_members}"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise IngestionError(f"the ZIP archive is damaged ({exc})") from None
    total = 0
    for info in infos:
        _check_ratio(info.filename, info.file_size, info.compress_size, limits)
        total += info.file_size
        if total > limits.max_unpacked_bytes:
            raise _too_large(limits)
    return total


def check_inflated(data: bytes, limits: ZipLimits) -> int:
    """Inflate every member with a hard cap on the bytes produced; returns the true total."""
    budget = _Budget(limits.max_unpacked_bytes)
    _inflate_all(data, limits, budget, depth=0)
    return budget.used


class _Budget:
    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.used = 0

    def spend(self, n: int, limits: ZipLimits) -> None:
        self.used += n
        if self.used > self.cap:
            raise _too_large(limits)


def _inflate_all(data: bytes, limits: ZipLimits, budget: _Budget, *, depth: int) -> None:
    check_declared(data, limits)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    _inflate_member(archive, info, limits, budget, depth=depth)
    except ArchiveTooLarge:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        # zipfile stops a member at its declared size and then fails its CRC: a lying archive.
        raise IngestionError(f"the ZIP archive is damaged ({exc})") from None
    except NotImplementedError as exc:  # an unsupported compression method
        raise IngestionError(f"the ZIP archive cannot be read ({exc})") from None


def _inflate_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    limits: ZipLimits,
    budget: _Budget,
    *,
    depth: int,
) -> None:
    nested: bytearray | None = None  # the bytes of a member that is itself an archive
    produced = 0
    with archive.open(info) as member:
        while piece := member.read(_READ):
            if produced == 0 and piece.startswith(ZIP_MAGIC):
                if depth >= MAX_NESTING:
                    raise ArchiveTooLarge(
                        f"the document nests archives more than {MAX_NESTING} deep"
                    )
                nested = bytearray()
            produced += len(piece)
            budget.spend(len(piece), limits)
            _check_ratio(info.filename, produced, info.compress_size, limits)
            if nested is not None:
                nested += piece
    if nested is not None:
        _inflate_all(bytes(nested), limits, budget, depth=depth + 1)


def _check_ratio(name: str, unpacked: int, packed: int, limits: ZipLimits) -> None:
    if unpacked > RATIO_FLOOR_BYTES and unpacked > limits.max_ratio * max(packed, 1):
        raise ArchiveTooLarge(
            f"the part {name[:100]!r} of the document unpacks to more than "
            f"{limits.max_ratio:g} times its packed size (a ZIP bomb?)"
        )


def _too_large(limits: ZipLimits) -> ArchiveTooLarge:
    return ArchiveTooLarge(
        f"the document unpacks to more than {limits.max_unpacked_bytes} bytes "
        "(PARLEY_RAG_MAX_UNPACKED_BYTES)"
    )
