"""Documents in, structured blocks out: headings, paragraphs, list items and table rows.

The type is sniffed from the bytes, never trusted from a file name or a Content-Type header.
Parsing is CPU-bound and synchronous; callers run it in a worker thread.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Literal

from rag.errors import (
    EncryptedDocument,
    IngestionError,
    NoExtractableText,
    TooManyPages,
    UnsupportedDocument,
)

# A table is a ``table_header`` (its first row) followed by ``table_row`` blocks, cells joined
# by " | "; the chunker writes them as a Markdown table and repeats the header in every chunk.
BlockKind = Literal["heading", "paragraph", "list_item", "table_header", "table_row", "code"]

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HTML = "text/html"
MARKDOWN = "text/markdown"
TEXT = "text/plain"
SUPPORTED = (PDF, DOCX, HTML, MARKDOWN, TEXT)


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str
    level: int = 0  # heading level 1-6
    page: int | None = None  # 1-based, PDFs only


@dataclass
class ParsedDocument:
    mime_type: str
    blocks: list[Block]
    title: str = ""
    page_count: int | None = None
    meta: dict[str, str] = field(default_factory=dict)


def sniff(data: bytes) -> str:
    """The content type of ``data`` judged from its bytes."""
    if not data:
        raise IngestionError("the file is empty (0 bytes)")
    head = data[:2048]
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "word/document.xml" in archive.namelist():
                    return DOCX
        except zipfile.BadZipFile:
            pass
        raise UnsupportedDocument("a ZIP archive that is not a Word (.docx) document")
    text = _decode(head, strict=False)
    if text is None:
        raise UnsupportedDocument(
            "binary content of an unsupported type; upload PDF, DOCX, HTML, Markdown or text"
        )
    lowered = text.lstrip().lower()
    if lowered.startswith(("<!doctype html", "<html")) or re.search(
        r"<(body|head|p|div|h[1-6]|article|section)[\s>]", lowered[:2048]
    ):
        return HTML
    if re.search(r"^(#{1,6} \S|```|\s*[-*] \S.*\n\s*[-*] \S|\|.+\|\s*\n\|[\s:-]+\|)", text, re.M):
        return MARKDOWN
    return TEXT


def _decode(data: bytes, *, strict: bool = True) -> str | None:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not strict and exc.start >= len(data) - 4:
            return data[: exc.start].decode("utf-8")  # a character cut by the sniff window
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    printable = sum(ch.isprintable() or ch.isspace() for ch in text[:4096])
    return text if printable >= 0.95 * min(len(text), 4096) else None


def parse(data: bytes, *, max_pages: int) -> ParsedDocument:
    """Parse any supported document; raises the errors of :mod:`rag.errors`."""
    mime = sniff(data)
    if mime == PDF:
        parsed = parse_pdf(data, max_pages=max_pages)
    elif mime == DOCX:
        parsed = parse_docx(data)
    else:
        text = _decode(data)
        if text is None:
            raise UnsupportedDocument("the text is not UTF-8 or Windows-1252")
        if mime == HTML:
            parsed = parse_html(text)
        elif mime == MARKDOWN:
            parsed = parse_markdown(text)
        else:
            parsed = parse_text(text)
    if not any(block.text.strip() for block in parsed.blocks):
        if mime == PDF:
            raise NoExtractableText(
                "the PDF has no extractable text (a scan or images only); run OCR first"
            )
        raise NoExtractableText("the document contains no text")
    return parsed


# --- PDF ---------------------------------------------------------------------------------------


def pdf_page_count(data: bytes) -> int:
    """Open a PDF far enough to refuse encrypted or broken files early; returns its page count."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise EncryptedDocument("the PDF is password-protected; upload an unlocked copy")
        return len(reader.pages)
    except EncryptedDocument:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise IngestionError(f"the PDF is damaged or not a PDF ({exc})") from None
    except Exception as exc:  # pypdf raises assorted errors on broken files
        if type(exc).__name__ in ("FileNotDecryptedError", "DependencyError"):
            raise EncryptedDocument("the PDF is encrypted in a way we cannot open") from None
        raise IngestionError(f"the PDF is damaged ({type(exc).__name__})") from None


def parse_pdf(data: bytes, *, max_pages: int) -> ParsedDocument:
    """Headings, paragraphs and tables of a PDF (:mod:`rag.pdf_layout`, pdfplumber); pypdf
    checks encryption and the page count first."""
    from rag.pdf_layout import parse_pdf_layout

    pages = pdf_page_count(data)
    if pages > max_pages:
        raise TooManyPages(f"the PDF has {pages} pages; the limit is {max_pages}")
    try:
        blocks, title = parse_pdf_layout(data)
    except Exception as exc:  # pdfminer raises assorted errors on broken files
        raise IngestionError(f"the PDF cannot be read ({type(exc).__name__})") from None
    return ParsedDocument(PDF, blocks, title=title, page_count=pages)


def _guess_kind(paragraph: str) -> BlockKind:
    return "list_item" if re.match(r"^([-•*]|\d+[.)])\s", paragraph) else "paragraph"


# --- DOCX --------------------------------------------------------------------------------------


def parse_docx(data: bytes) -> ParsedDocument:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises KeyError/ValueError/lxml errors on bad files
        raise IngestionError(f"the Word document is damaged ({type(exc).__name__})") from None
    blocks: list[Block] = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            text = item.text.strip()
            if not text:
                continue
            style = (item.style.name if item.style is not None else "") or ""
            if style == "Title":
                blocks.append(Block("heading", text, level=1))
            elif match := re.match(r"Heading (\d)", style):
                blocks.append(Block("heading", text, level=int(match.group(1))))
            elif style.startswith("List"):
                blocks.append(Block("list_item", text))
            else:
                blocks.append(Block("paragraph", text))
        elif isinstance(item, Table):
            first = True
            for row in item.rows:
                cells = _unique_cells(_cell(cell.text) for cell in row.cells)
                if any(cells):
                    header = first and len(item.rows) > 1
                    kind: BlockKind = "table_header" if header else "table_row"
                    blocks.append(Block(kind, " | ".join(cells)))
                    first = False
    title = (document.core_properties.title or "").strip()
    return ParsedDocument(DOCX, blocks, title=title)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "/")  # a pipe would split the Markdown cell


def _unique_cells(cells: object) -> list[str]:
    # Merged cells repeat their text in python-docx; keep each once.
    out: list[str] = []
    for cell in cells:  # type: ignore[attr-defined]
        if not out or out[-1] != cell:
            out.append(cell)
    return out


# --- HTML --------------------------------------------------------------------------------------

_HTML_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "tr", "pre", "blockquote", "dd")


def parse_html(text: str) -> ParsedDocument:
    from bs4 import BeautifulSoup, Tag

    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "svg", "nav", "footer"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    root = soup.body or soup
    blocks: list[Block] = []
    for element in root.find_all(_HTML_BLOCKS):
        if not isinstance(element, Tag):
            continue
        # Nested blocks (a <p> inside an <li>) are read once, by the outermost one.
        if element.find_parent(_HTML_BLOCKS) is not None:
            continue
        name = element.name
        if name == "tr":
            found = element.find_all(["td", "th"])
            cells = [_cell(c.get_text(" ", strip=True)) for c in found]
            content = " | ".join(cells)
            if any(cells):
                header = all(c.name == "th" for c in found if isinstance(c, Tag))
                blocks.append(Block("table_header" if header else "table_row", content))
            continue
        content = element.get_text(" ", strip=True)
        if not content:
            continue
        if name[0] == "h" and name[1:].isdigit():
            blocks.append(Block("heading", content, level=int(name[1:])))
        elif name == "li":
            blocks.append(Block("list_item", content))
        elif name == "pre":
            blocks.append(Block("code", element.get_text().strip("\n")))
        else:
            blocks.append(Block("paragraph", content))
    if not blocks:  # pages built of bare <div>s and text
        blocks = [Block("paragraph", p) for p in _paragraphs(root.get_text("\n"))]
    if not title:
        title = next((b.text for b in blocks if b.kind == "heading"), "")
    return ParsedDocument(HTML, blocks, title=title)


# --- Markdown and text -------------------------------------------------------------------------


def parse_markdown(text: str) -> ParsedDocument:
    blocks: list[Block] = []
    paragraph: list[str] = []
    fence: list[str] | None = None

    def flush() -> None:
        if paragraph:
            blocks.append(Block("paragraph", " ".join(line.strip() for line in paragraph)))
            paragraph.clear()

    for line in text.splitlines():
        if fence is not None:
            if line.strip().startswith("```"):
                blocks.append(Block("code", "\n".join(fence)))
                fence = None
            else:
                fence.append(line)
            continue
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            fence = []
        elif match := re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", stripped):
            flush()
            blocks.append(Block("heading", _md_inline(match.group(2)), level=len(match.group(1))))
        elif re.match(r"^([-*+]|\d+[.)])\s+", stripped):
            flush()
            blocks.append(Block("list_item", _md_inline(stripped)))
        elif stripped.startswith("|") and stripped.endswith("|"):
            flush()
            if re.fullmatch(r"\|[\s:|-]+\|", stripped):
                if blocks and blocks[-1].kind == "table_row":  # the row above is the header
                    blocks[-1] = Block("table_header", blocks[-1].text)
                continue
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            blocks.append(Block("table_row", " | ".join(_md_inline(c) for c in cells)))
        elif not stripped:
            flush()
        elif blocks and blocks[-1].kind == "list_item" and line[:1].isspace() and not paragraph:
            last = blocks.pop()  # a continuation line of a list item
            blocks.append(Block("list_item", f"{last.text} {_md_inline(stripped)}"))
        else:
            paragraph.append(_md_inline(stripped))
    flush()
    if fence:
        blocks.append(Block("code", "\n".join(fence)))
    title = next((b.text for b in blocks if b.kind == "heading"), "")
    return ParsedDocument(MARKDOWN, blocks, title=title)


def _md_inline(text: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images keep their text
    return re.sub(r"(\*\*|__|`)", "", text)


def parse_text(text: str) -> ParsedDocument:
    blocks = [Block(_guess_kind(p), p) for p in _paragraphs(text)]
    return ParsedDocument(TEXT, blocks)


def _paragraphs(text: str) -> list[str]:
    parts = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    return [re.sub(r"\s+", " ", part).strip() for part in parts if part.strip()]
