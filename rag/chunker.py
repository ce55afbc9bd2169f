"""Structure-following chunking: blocks are packed into chunks of about ``target_tokens``.

A heading starts a new chunk and becomes part of the heading path carried by every chunk under
it; paragraphs, list items and table rows are never cut unless one alone is longer than a
chunk, in which case it is split at sentence ends. The tail of a chunk (about ``overlap`` of
it, in whole sentences) is repeated at the start of the next chunk of the same section, so that
an answer spanning the boundary is found from either side.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rag.parsers import Block


def estimate_tokens(text: str) -> int:
    """About four characters per token, as for English with BPE tokenizers."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    content: str
    token_count: int
    heading_path: tuple[str, ...] = ()
    page: int | None = None
    page_end: int | None = None

    @property
    def location(self) -> str | None:
        """Where the passage is, for a citation: "Setup > Network", "page 3", "pages 3-4" or,
        in a PDF with headings, "Setup > Network, page 3"."""
        section = " > ".join(self.heading_path)
        if self.page is not None:
            if self.page_end is not None and self.page_end != self.page:
                pages = f"pages {self.page}-{self.page_end}"
            else:
                pages = f"page {self.page}"
            return f"{section}, {pages}" if section else pages
        return section or None


@dataclass
class _Open:
    heading_path: tuple[str, ...]
    parts: list[str] = field(default_factory=list)
    tokens: int = 0
    pages: list[int] = field(default_factory=list)
    has_body: bool = False
    has_table_header: bool = False


def _markdown_row(cells: str) -> str:
    return "| " + cells + " |"


def _markdown_header(cells: str) -> str:
    count = cells.count(" | ") + 1
    return _markdown_row(cells) + "\n|" + "---|" * count


def chunk_blocks(
    blocks: Sequence[Block], *, target_tokens: int = 500, overlap: float = 0.1
) -> list[Chunk]:
    chunks: list[Chunk] = []
    path: list[tuple[int, str]] = []  # (level, heading) from outermost in
    current = _Open(heading_path=())
    overlap_tokens = int(target_tokens * overlap)

    def close(*, carry: bool) -> None:
        nonlocal current
        if current.has_body:
            content = "\n".join(current.parts)
            chunks.append(
                Chunk(
                    ordinal=len(chunks),
                    content=content,
                    token_count=estimate_tokens(content),
                    heading_path=current.heading_path,
                    page=min(current.pages) if current.pages else None,
                    page_end=max(current.pages) if current.pages else None,
                )
            )
        last = current.parts[-1] if current.parts else ""
        # A table row is not carried as overlap: without its header it would mislead.
        carry = carry and current.has_body and not last.startswith("| ")
        tail = _tail(last, overlap_tokens) if carry else ""
        heading_path = tuple(h for _, h in path)
        current = _Open(heading_path=heading_path)
        if heading_path:
            # Chunks under a heading restate it, so that the passage stands alone.
            current.parts.append(" > ".join(heading_path))
            current.tokens = estimate_tokens(current.parts[0])
        if tail:
            current.parts.append(tail)
            current.tokens += estimate_tokens(tail)

    table_header: str | None = None  # the Markdown header of the table being read
    for block in blocks:
        text = block.text.strip()
        if not text:
            continue
        if block.kind == "table_header":
            table_header = _markdown_header(text)
            continue
        if block.kind == "table_row":
            text = _markdown_row(text)
            header = table_header if not current.has_table_header else None
            needed = estimate_tokens(text) + (estimate_tokens(header) if header else 0)
            new_page = block.page is not None and current.pages and block.page != current.pages[-1]
            if current.has_body and (current.tokens + needed > target_tokens or new_page):
                # Rows are not carried over as overlap: the next chunk restates the header.
                close(carry=False)
            if table_header is not None and not current.has_table_header:
                # A chunk that holds rows of a table starts them with the table's header, so
                # that "40 EUR" keeps its column name ("Full day") in every chunk.
                current.parts.append(table_header)
                current.tokens += estimate_tokens(table_header)
                current.has_table_header = True
        else:
            table_header = None
            current.has_table_header = False
        if block.kind == "heading":
            close(carry=False)
            while path and path[-1][0] >= block.level:
                path.pop()
            path.append((block.level, text))
            current = _Open(heading_path=tuple(h for _, h in path))
            current.parts.append(" > ".join(current.heading_path))
            current.tokens = estimate_tokens(current.parts[0])
            continue
        if (
            block.page is not None
            and current.pages
            and block.page != current.pages[-1]
            and current.tokens >= target_tokens // 4
        ):
            # A new page starts a new chunk unless the chunk is still small: citations then
            # name one page.
            close(carry=True)
        for piece in _pieces(text, target_tokens):
            size = estimate_tokens(piece)
            if current.has_body and current.tokens + size > target_tokens:
                close(carry=True)
            current.parts.append(piece)
            current.tokens += size
            current.has_body = True
            if block.page is not None:
                current.pages.append(block.page)
    close(carry=False)
    return chunks


_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


def _pieces(text: str, target_tokens: int) -> list[str]:
    """A block as one piece, or cut at sentence (then word) boundaries when over a chunk."""
    if estimate_tokens(text) <= target_tokens:
        return [text]
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        for part in _split_words(sentence, target_tokens):
            if current and estimate_tokens(current) + estimate_tokens(part) > target_tokens:
                pieces.append(current)
                current = part
            else:
                current = f"{current} {part}" if current else part
    if current:
        pieces.append(current)
    return pieces


def _split_words(sentence: str, target_tokens: int) -> list[str]:
    if estimate_tokens(sentence) <= target_tokens:
        return [sentence]
    words = sentence.split()
    out: list[str] = []
    line: list[str] = []
    for word in words:
        if line and estimate_tokens(" ".join([*line, word])) > target_tokens:
            out.append(" ".join(line))
            line = []
        line.append(word[: target_tokens * 4])
    if line:
        out.append(" ".join(line))
    return out


def _tail(text: str, tokens: int) -> str:
    """The last whole sentences of ``text`` within about ``tokens``."""
    if tokens <= 0:
        return ""
    sentences = _SENTENCE_END.split(text)
    picked: list[str] = []
    size = 0
    for sentence in reversed(sentences):
        cost = estimate_tokens(sentence)
        if picked and size + cost > tokens:
            break
        if not picked and cost > tokens:
            words = sentence.split()
            return " ".join(words[-max(1, tokens * 4 // 6) :])
        picked.insert(0, sentence)
        size += cost
    return " ".join(picked)
