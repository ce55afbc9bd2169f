"""Parsing in a separate, resource-limited process: a hostile document can exhaust only that.

The parent (:func:`parse_isolated`, called by the ingestion worker) starts
``python -m rag.parse_worker`` for each document, writes the document to its stdin and reads
one JSON result from its stdout. The child first caps its own address space (``RLIMIT_AS``) and
CPU time (``RLIMIT_CPU``), then bounds ZIP-based files (:mod:`rag.archive_limits`), then calls
the ordinary parsers. Whatever happens in there - a ZIP bomb, a decompression loop in a PDF, a
parser bug that allocates forever - the server loses one child process and the document fails
with a reason. Cancelling the parent's call (the document was deleted, the server is stopping)
kills the child at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import resource
import signal
import sys
from dataclasses import asdict, dataclass
from typing import Any

from rag import errors
from rag.archive_limits import ZipLimits, check_inflated, is_zip
from rag.errors import ParseAborted
from rag.parsers import Block, ParsedDocument, parse

_log = logging.getLogger("parley.rag.parse_worker")

STDERR_KEPT = 4096  # the tail of a crashing child's stderr, for the log
STARTUP_GRACE_S = 15.0  # wall time on top of the CPU limit: interpreter start, imports, I/O
# The typed errors a child may report; anything else becomes ParseAborted.
_ERRORS: dict[str, type[errors.IngestionError] | type[errors.UnsupportedDocument]] = {
    cls.__name__: cls
    for cls in (
        errors.IngestionError,
        errors.EncryptedDocument,
        errors.NoExtractableText,
        errors.TooManyPages,
        errors.ArchiveTooLarge,
        errors.UnsupportedDocument,
    )
}


@dataclass(frozen=True)
class ParseLimits:
    memory_bytes: int
    cpu_s: int
    max_pages: int
    zip: ZipLimits

    def as_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ParseLimits:
        raw = json.loads(text)
        return cls(
            memory_bytes=int(raw["memory_bytes"]),
            cpu_s=int(raw["cpu_s"]),
            max_pages=int(raw["max_pages"]),
            zip=ZipLimits(**raw["zip"]),
        )


@dataclass(frozen=True)
class WorkerResult:
    """What the child reported: a parsed document or the typed error it raised."""

    parsed: ParsedDocument | None
    error: errors.IngestionError | errors.UnsupportedDocument | None
    peak_rss_bytes: int  # of the child, as it reported

    def unwrap(self) -> ParsedDocument:
        if self.error is not None:
            raise self.error
        assert self.parsed is not None
        return self.parsed


# --- the parent's side -------------------------------------------------------------------------


async def parse_isolated(data: bytes, limits: ParseLimits) -> WorkerResult:
    """Parse ``data`` in a child process. The document's own errors come back in the result;
    a child that dies, overruns or is too slow raises :class:`ParseAborted`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rag.parse_worker",
        limits.as_json(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    # The result holds at most the document's text; an unpacked archive is capped, so this is.
    output_cap = 2 * max(limits.zip.max_unpacked_bytes, len(data)) + 1_000_000
    try:
        async with asyncio.timeout(limits.cpu_s + STARTUP_GRACE_S):
            stdout, stderr, _ = await asyncio.gather(
                _read_capped(process.stdout, output_cap),
                _read_tail(process.stderr, STDERR_KEPT),
                _feed(process.stdin, data),
            )
            returncode = await process.wait()
    except TimeoutError:
        raise ParseAborted(
            f"parsing took longer than {limits.cpu_s + STARTUP_GRACE_S:g} s and was stopped"
        ) from None
    finally:
        if process.returncode is None:
            # Cancelled (document deleted, shutdown), timed out or over the output cap.
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.shield(process.wait())
    if returncode != 0 or not stdout:
        raise _died(returncode, stderr, limits)
    return _result(stdout)


async def _feed(pipe: asyncio.StreamWriter | None, data: bytes) -> None:
    assert pipe is not None
    try:
        pipe.write(data)
        await pipe.drain()
        pipe.close()
        await pipe.wait_closed()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the child stopped reading (it died); its exit status says why


async def _read_capped(pipe: asyncio.StreamReader | None, cap: int) -> bytes:
    assert pipe is not None
    out = bytearray()
    while piece := await pipe.read(65536):
        out += piece
        if len(out) > cap:
            raise ParseAborted("the parsed text is larger than the document may unpack to")
    return bytes(out)


async def _read_tail(pipe: asyncio.StreamReader | None, keep: int) -> bytes:
    assert pipe is not None
    tail = b""
    while piece := await pipe.read(65536):
        tail = (tail + piece)[-keep:]
    return tail


def _died(returncode: int, stderr: bytes, limits: ParseLimits) -> ParseAborted:
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        reason = f"parsing used more than its {limits.cpu_s} s of CPU time and was stopped"
    elif b"MemoryError" in stderr:
        reason = _over_memory(limits)
    else:
        reason = f"the parsing process died (exit status {returncode})"
    _log.warning("parse worker failed: %s; stderr: %s", reason, stderr.decode("utf-8", "replace"))
    return ParseAborted(reason)


def _over_memory(limits: ParseLimits) -> str:
    return (
        f"parsing needed more than its {limits.memory_bytes // 2**20} MB of memory and was stopped"
    )


def _result(stdout: bytes) -> WorkerResult:
    try:
        raw = json.loads(stdout)
        peak = int(raw.get("peak_rss_kb", 0)) * 1024
        if "error" in raw:
            cls = _ERRORS.get(raw["error"]["kind"], ParseAborted)
            return WorkerResult(None, cls(str(raw["error"]["detail"])), peak)
        doc = raw["ok"]
        parsed = ParsedDocument(
            mime_type=doc["mime_type"],
            blocks=[Block(**block) for block in doc["blocks"]],
            title=doc["title"],
            page_count=doc["page_count"],
            meta=doc["meta"],
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ParseAborted(
            f"the parsing process answered nonsense ({type(exc).__name__})"
        ) from None
    return WorkerResult(parsed, None, peak)


# --- the child's side ----------------------------------------------------------------------------


def _cap(kind: int, soft: int, hard: int) -> None:
    _, current_hard = resource.getrlimit(kind)
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(kind, (soft, hard))


def run_child(limits: ParseLimits, data: bytes) -> dict[str, Any]:
    """Parse within the limits; the answer the child prints (never raises for bad documents)."""
    try:
        if is_zip(data):
            check_inflated(data, limits.zip)
        parsed = parse(data, max_pages=limits.max_pages)
        out: dict[str, Any] = {"ok": asdict(parsed)}
    except (errors.IngestionError, errors.UnsupportedDocument) as exc:
        out = {"error": {"kind": type(exc).__name__, "detail": exc.detail}}
        # Parsers report a failed allocation as a broken file (lxml: XMLSyntaxError); near the
        # cap, say what really happened.
        if _peak_rss_kb() * 1024 > 0.8 * limits.memory_bytes:
            out["error"] = {"kind": "ParseAborted", "detail": _over_memory(limits)}
    except MemoryError:
        out = {"error": {"kind": "ParseAborted", "detail": _over_memory(limits)}}
    out["peak_rss_kb"] = _peak_rss_kb()
    return out


def _peak_rss_kb() -> int:
    """This program's peak RSS. Linux keeps ``ru_maxrss`` across exec, so a child forked from a
    large server (a loaded embedding model) would report the server's size; ``VmHWM`` belongs
    to the memory of this program only."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _die_with_parent() -> None:
    """Ask Linux to kill this process when the server that started it dies (``kill -9`` of the
    server must not leave a parser running); elsewhere the CPU limit still ends it."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the parent died before the request took effect
        raise SystemExit(1)


def main(argv: list[str]) -> int:
    _die_with_parent()
    limits = ParseLimits.from_json(argv[1])
    # Limits first: nothing the document makes us do happens before them. SIGXCPU at the soft
    # CPU limit, SIGKILL one second later if the child ignores it.
    _cap(resource.RLIMIT_AS, limits.memory_bytes, limits.memory_bytes)
    _cap(resource.RLIMIT_CPU, limits.cpu_s, limits.cpu_s + 1)
    data = sys.stdin.buffer.read()
    out = run_child(limits, data)
    sys.stdout.buffer.write(json.dumps(out).encode())
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
