"""ZIP bombs for tests, built in seconds: a deflate stream of one compressed megabyte repeated.

After a full flush a deflate compressor starts afresh, so compressing the same megabyte again
gives the same bytes; repeating them N times is a valid stream that inflates to N MB. Each bomb
is a real archive (correct CRC, honest or - on request - lying directory sizes), wrapped around
the parts of a real DOCX so that the sniffer and python-docx take it for one.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

from tests.unit.rag.documents import make_docx

MB = 1 << 20
_XML_PARAGRAPH = b"<w:p><w:r><w:t>All work and no play makes Jack a dull boy.</w:t></w:r></w:p>"


@dataclass(frozen=True)
class Member:
    name: str
    packed: bytes  # raw deflate stream, or the bytes themselves when stored
    crc: int
    size: int
    method: int = zipfile.ZIP_DEFLATED


def deflated(data: bytes, name: str) -> Member:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    packed = compressor.compress(data) + compressor.flush()
    return Member(name, packed, zlib.crc32(data), len(data))


def stored(data: bytes, name: str) -> Member:
    return Member(name, data, zlib.crc32(data), len(data), zipfile.ZIP_STORED)


def repeated(name: str, *, head: bytes, unit: bytes, megabytes: int, tail: bytes) -> Member:
    """A member of ``head`` + about ``megabytes`` MB of whole ``unit``s + ``tail``, deflated
    cheaply."""
    block = unit * (MB // len(unit))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    middle = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    last = compressor.compress(tail) + compressor.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head)
    for _ in range(megabytes):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail, crc)
    packed = first + middle * megabytes + last
    return Member(name, packed, crc, len(head) + megabytes * len(block) + len(tail))


def write_zip(members: list[Member], *, declared_size: int | None = None) -> bytes:
    """An archive of ``members``; ``declared_size`` makes every header lie about sizes."""
    out = io.BytesIO()
    central = io.BytesIO()
    for m in members:
        offset = out.tell()
        name = m.name.encode()
        size = m.size if declared_size is None else declared_size
        fields = (20, 0, m.method, 0, 0x21, m.crc, len(m.packed), size, len(name), 0)
        out.write(b"PK\x03\x04" + struct.pack("<HHHHHIIIHH", *fields) + name + m.packed)
        central.write(
            b"PK\x01\x02" + struct.pack("<HHHHHHIIIHHHHHII", 20, *fields, 0, 0, 0, 0, offset) + name
        )
    directory = central.getvalue()
    start = out.tell()
    out.write(directory)
    count = len(members)
    out.write(b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, count, count, len(directory), start, 0))
    return out.getvalue()


def docx_parts(*, skip: str = "") -> list[Member]:
    """The parts of a small real DOCX, except ``skip``."""
    real = make_docx("Bomb", [("Section", ["A real paragraph."])])
    with zipfile.ZipFile(io.BytesIO(real)) as archive:
        return [deflated(archive.read(n), n) for n in archive.namelist() if n != skip]


def docx_bomb(megabytes: int, *, declared_size: int | None = None) -> bytes:
    """A DOCX whose word/document.xml is ``megabytes`` MB of paragraphs."""
    body = repeated(
        "word/document.xml",
        head=b'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w='
        b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>',
        unit=_XML_PARAGRAPH,
        megabytes=megabytes,
        tail=b"</w:body></w:document>",
    )
    return write_zip([body, *docx_parts(skip="word/document.xml")], declared_size=declared_size)


def xlsx_bomb(megabytes: int) -> bytes:
    """An XLSX-like archive: one worksheet of ``megabytes`` MB of cells."""
    sheet = repeated(
        "xl/worksheets/sheet1.xml",
        head=b"<worksheet><sheetData>",
        unit=b'<row><c t="s"><v>0</v></c></row>',
        megabytes=megabytes,
        tail=b"</sheetData></worksheet>",
    )
    types = deflated(b"<Types/>", "[Content_Types].xml")
    return write_zip([types, sheet, deflated(b"<workbook/>", "xl/workbook.xml")])


def nested_docx_bomb(megabytes: int) -> bytes:
    """A DOCX with an embedded archive (stored, so the outer directory looks harmless) that
    inflates to ``megabytes`` MB."""
    inner = write_zip([repeated("data.bin", head=b"", unit=b"\0", megabytes=megabytes, tail=b"")])
    embedded = stored(inner, "word/embeddings/oleObject1.zip")
    return write_zip([*docx_parts(), embedded])


def slow_docx(megabytes: int) -> bytes:
    """A small, honest-looking DOCX that takes python-docx a long time: one real paragraph, then
    ``megabytes`` MB of empty ones (no text, so parsing is slow and the result tiny)."""
    body = repeated(
        "word/document.xml",
        head=b'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w='
        b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
        b"<w:p><w:r><w:t>The slow handbook: staff get 28 days of leave.</w:t></w:r></w:p>",
        unit=b"<w:p/>",
        megabytes=megabytes,
        tail=b"</w:body></w:document>",
    )
    return write_zip([body, *docx_parts(skip="word/document.xml")])
