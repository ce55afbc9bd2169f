"""PDF pages to structured blocks with pdfplumber: headings from font sizes, paragraphs from line
spacing, and tables (ruled or aligned) as header + rows.

pdfplumber (MIT, on pdfminer.six) was chosen over PyMuPDF, which is AGPL-3.0 and so cannot ship
in an Apache-2.0 server without changing its terms, and over pypdf, whose ``extract_text`` gives
a page as one stream of text: a price list loses the column each price belongs to. Measured on
the generated documents of ``benchmarks.rag_eval``: every heading and table row survives.

Headings: the body size is the most common character size of the document; a line set at least
15% larger (or bold and short, alone on its line) is a heading, its level given by the rank of
its size among the heading sizes. Text inside a table's box is read only as the table.
"""

from __future__ import annotations

import io
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rag.parsers import Block, BlockKind

HEADING_RATIO = 1.15
MAX_HEADING_WORDS = 14


@dataclass(frozen=True)
class _Line:
    page: int
    top: float
    bottom: float
    size: float
    bold: bool
    text: str


def _clean_cell(cell: object) -> str:
    text = " ".join(str(cell or "").split())
    return text.replace("|", "/")  # a pipe would split the Markdown cell


def _table_blocks(rows: Sequence[Sequence[object]], page: int) -> list[Block]:
    cleaned = [[_clean_cell(c) for c in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if not cleaned:
        return []
    if len(cleaned) == 1:
        return [Block("table_row", " | ".join(cleaned[0]), page=page)]
    header, *body = cleaned
    blocks = [Block("table_header", " | ".join(header), page=page)]
    blocks.extend(Block("table_row", " | ".join(row), page=page) for row in body)
    return blocks


def _inside(word: dict[str, Any], box: tuple[float, float, float, float]) -> bool:
    x0, top, x1, bottom = box
    mid_x = (word["x0"] + word["x1"]) / 2
    mid_y = (word["top"] + word["bottom"]) / 2
    return x0 <= mid_x <= x1 and top <= mid_y <= bottom


def _lines(words: Iterable[dict[str, Any]], page: int) -> list[_Line]:
    lines: list[_Line] = []
    current: list[dict[str, Any]] = []

    def flush() -> None:
        if current:
            sizes = [round(float(w["size"]), 1) for w in current]
            lines.append(
                _Line(
                    page=page,
                    top=min(w["top"] for w in current),
                    bottom=max(w["bottom"] for w in current),
                    size=max(sizes, key=sizes.count),
                    bold=all("bold" in str(w.get("fontname", "")).lower() for w in current),
                    text=" ".join(w["text"] for w in current),
                )
            )
            current.clear()

    for word in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
        if current and abs(word["top"] - current[-1]["top"]) > 2:
            flush()
        current.append(word)
    flush()
    return lines


def parse_pdf_layout(data: bytes) -> tuple[list[Block], str]:
    """The document's blocks in reading order and its metadata title ("" when none)."""
    import pdfplumber

    items: list[tuple[int, float, _Line | list[Block]]] = []
    with pdfplumber.open(io.BytesIO(data)) as document:
        title = str((document.metadata or {}).get("Title") or "").strip()
        for number, page in enumerate(document.pages, start=1):
            # pdfplumber's default table finder builds tables from ruling lines and boxes; a
            # page without any has none, and the search costs most of a page's parse time.
            tables = page.find_tables() if (page.lines or page.rects or page.curves) else []
            boxes = [t.bbox for t in tables]
            for table in tables:
                blocks = _table_blocks(table.extract(), number)
                if blocks:
                    items.append((number, float(table.bbox[1]), blocks))
            words = page.extract_words(extra_attrs=["size", "fontname"], use_text_flow=False)
            free = [w for w in words if not any(_inside(w, box) for box in boxes)]
            items.extend((number, line.top, line) for line in _lines(free, number))
            page.flush_cache()  # pdfplumber keeps every object of a page until told otherwise
    items.sort(key=lambda item: (item[0], item[1]))
    items = _join_continued_tables(items)
    lines = [item[2] for item in items if isinstance(item[2], _Line)]
    return _blocks(items, lines), title


def _join_continued_tables(
    items: list[tuple[int, float, _Line | list[Block]]],
) -> list[tuple[int, float, _Line | list[Block]]]:
    """A table that ends a page and one that starts the next page with as many columns are one
    table: a repeated header row is dropped, and a first row that is not the header is a row."""
    out: list[tuple[int, float, _Line | list[Block]]] = []
    for page, top, item in items:
        previous = out[-1][2] if out else None
        if (
            isinstance(item, list)
            and isinstance(previous, list)
            and out[-1][0] == page - 1
            and not any(p == page for p, _, _ in out)
        ):
            header = next((b for b in previous if b.kind == "table_header"), None)
            columns = previous[-1].text.count(" | ")
            if item[0].text.count(" | ") == columns:
                rows = [Block("table_row", b.text, page=b.page) for b in item]
                if header is not None and rows[0].text == header.text:
                    rows = rows[1:]
                out[-1] = (out[-1][0], out[-1][1], [*previous, *rows])
                continue
        out.append((page, top, item))
    return out


def _blocks(items: list[tuple[int, float, _Line | list[Block]]], lines: list[_Line]) -> list[Block]:
    if not lines:
        return [b for _, _, item in items if isinstance(item, list) for b in item]
    sizes = Counter(line.size for line in lines for _ in line.text.split())
    body = sizes.most_common(1)[0][0]
    large = {ln.size for ln in lines if ln.size >= body * HEADING_RATIO}
    heading_sizes = sorted(large, reverse=True)
    gaps = [b.top - a.bottom for a, b in zip(lines, lines[1:], strict=False)
            if a.page == b.page and b.top > a.bottom]  # fmt: skip
    usual_gap = statistics.median(gaps) if gaps else 0.0

    blocks: list[Block] = []
    paragraph: list[str] = []
    previous: _Line | None = None

    def flush(page: int | None) -> None:
        if paragraph:
            text = " ".join(paragraph)
            kind: BlockKind = "list_item" if text[:2] in ("- ", "• ", "* ") else "paragraph"
            blocks.append(Block(kind, text, page=page))
            paragraph.clear()

    for _page, _top, item in items:
        if isinstance(item, list):
            flush(previous.page if previous else None)
            blocks.extend(item)
            previous = None
            continue
        line = item
        words = len(line.text.split())
        level = 0
        if line.size >= body * HEADING_RATIO and words <= MAX_HEADING_WORDS:
            level = heading_sizes.index(line.size) + 1
        elif line.bold and words <= MAX_HEADING_WORDS and not line.text.endswith((".", ",")):
            level = len(heading_sizes) + 1
        if level:
            flush(previous.page if previous else line.page)
            blocks.append(Block("heading", line.text, level=min(level, 6), page=line.page))
            previous = None
            continue
        new_paragraph = (
            previous is None
            or previous.page != line.page
            or line.top - previous.bottom > max(usual_gap * 1.8, 2.0)
            or line.text[:2] in ("- ", "• ", "* ")
        )
        if new_paragraph:
            flush(previous.page if previous else line.page)
        paragraph.append(line.text)
        previous = line
    flush(previous.page if previous else None)
    return blocks
