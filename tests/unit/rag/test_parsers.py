from __future__ import annotations

import pytest

from rag.chunker import chunk_blocks
from rag.errors import EncryptedDocument, IngestionError, NoExtractableText, UnsupportedDocument
from rag.parsers import DOCX, HTML, MARKDOWN, PDF, TEXT, parse, sniff
from tests.unit.rag.documents import (
    make_docx,
    make_encrypted_pdf,
    make_html,
    make_layout_pdf,
    make_markdown,
    make_pdf,
)

SECTIONS = [("Returns", ["Items can be returned within 45 days.", "Keep the receipt."])]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (make_pdf([["hello"]]), PDF),
        (make_docx("Guide", SECTIONS), DOCX),
        (make_html("Guide", SECTIONS), HTML),
        (make_markdown("Guide", SECTIONS), MARKDOWN),
        (b"Just some plain words.\n\nAnother paragraph.", TEXT),
    ],
)
def test_type_is_sniffed_from_content(data: bytes, expected: str) -> None:
    assert sniff(data) == expected


def test_a_renamed_binary_is_refused() -> None:
    with pytest.raises(UnsupportedDocument):
        sniff(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100))


def test_zero_bytes_is_a_clear_error() -> None:
    with pytest.raises(IngestionError, match="empty"):
        parse(b"", max_pages=10)


def test_pdf_pages_become_blocks_with_page_numbers() -> None:
    data = make_pdf([["Intro text on page one."], ["Warranty lasts 3 years."]], title="Manual")
    parsed = parse(data, max_pages=10)
    assert parsed.page_count == 2
    assert parsed.title == "Manual"
    assert any(b.page == 2 and "Warranty lasts 3 years" in b.text for b in parsed.blocks)


def test_encrypted_pdf_is_refused_with_a_reason() -> None:
    with pytest.raises(EncryptedDocument, match="password"):
        parse(make_encrypted_pdf(), max_pages=10)


def test_text_free_pdf_is_refused_with_a_reason() -> None:
    with pytest.raises(NoExtractableText, match="OCR"):
        parse(make_pdf([[], []]), max_pages=10)


def test_pdf_over_the_page_limit_is_refused() -> None:
    with pytest.raises(IngestionError, match="3 pages; the limit is 2"):
        parse(make_pdf([["a"], ["b"], ["c"]]), max_pages=2)


def test_docx_keeps_headings_lists_and_table_rows() -> None:
    data = make_docx(
        "Handbook",
        SECTIONS,
        bullets=["Bring your badge"],
        table=[["Plan", "Price"], ["Pro", "20 EUR"]],
    )
    parsed = parse(data, max_pages=10)
    kinds = [(b.kind, b.text) for b in parsed.blocks]
    assert ("heading", "Returns") in kinds
    assert ("list_item", "Bring your badge") in kinds
    assert ("table_header", "Plan | Price") in kinds
    assert ("table_row", "Pro | 20 EUR") in kinds
    assert parsed.title == "Handbook"


def test_html_drops_scripts_and_navigation() -> None:
    parsed = parse(make_html("Shop FAQ", SECTIONS), max_pages=10)
    text = " ".join(b.text for b in parsed.blocks)
    assert "var x" not in text
    assert "Home | About" not in text
    assert parsed.title == "Shop FAQ"
    assert ("heading", "Returns") in [(b.kind, b.text) for b in parsed.blocks]


def test_markdown_structure() -> None:
    data = (
        b"# Title\n\nIntro [link](http://x) **bold**.\n\n- one\n- two\n\n"
        b"| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    parsed = parse(data, max_pages=10)
    assert [(b.kind, b.text) for b in parsed.blocks] == [
        ("heading", "Title"),
        ("paragraph", "Intro link bold."),
        ("list_item", "- one"),
        ("list_item", "- two"),
        ("table_header", "a | b"),
        ("table_row", "1 | 2"),
    ]


def test_a_pdf_keeps_its_headings_and_its_table_with_the_header_in_every_chunk() -> None:
    rows = [["Boat", "Half day", "Full day", "Deposit"]] + [
        [f"Kayak model {i}", f"{20 + i} EUR", f"{35 + i} EUR", f"{100 + i} EUR"] for i in range(30)
    ]
    data = make_layout_pdf(
        "Lake rentals",
        [
            ("Opening", ["The rental desk opens at 9:30 from May to September."], []),
            ("Daily rates", ["Every boat comes with life vests."], rows),
            ("Children", ["Children under 12 paddle with an adult."], []),
        ],
    )
    parsed = parse(data, max_pages=10)
    headings = [(b.level, b.text) for b in parsed.blocks if b.kind == "heading"]
    assert headings == [(1, "Lake rentals"), (2, "Opening"), (2, "Daily rates"), (2, "Children")]
    assert parsed.title == "Lake rentals"
    assert [b.text for b in parsed.blocks if b.kind == "table_header"] == [
        "Boat | Half day | Full day | Deposit"
    ]
    table_rows = [b.text for b in parsed.blocks if b.kind == "table_row"]
    assert table_rows == [" | ".join(r) for r in rows[1:]], "every row, cells in order"
    paragraphs = [b.text for b in parsed.blocks if b.kind == "paragraph"]
    assert "Children under 12 paddle with an adult." in paragraphs

    chunks = chunk_blocks(parsed.blocks, target_tokens=120)
    holding = [c for c in chunks if "| Kayak model" in c.content]
    assert len(holding) >= 2
    for chunk in holding:
        assert "| Boat | Half day | Full day | Deposit |\n|---|---|---|---|" in chunk.content
        assert chunk.location is not None
        assert chunk.location.startswith("Lake rentals > Daily rates, page ")
    assert sum(c.content.count("| Kayak model") for c in chunks) == 30
