from __future__ import annotations

from rag.chunker import chunk_blocks, estimate_tokens
from rag.parsers import Block


def test_headings_start_chunks_and_travel_with_them() -> None:
    blocks = [
        Block("heading", "Guide", level=1),
        Block("paragraph", "Welcome."),
        Block("heading", "Billing", level=2),
        Block("paragraph", "Invoices go out monthly."),
        Block("heading", "Support", level=2),
        Block("list_item", "- Email us"),
    ]
    chunks = chunk_blocks(blocks, target_tokens=200)
    assert [c.heading_path for c in chunks] == [
        ("Guide",),
        ("Guide", "Billing"),
        ("Guide", "Support"),
    ]
    assert chunks[1].content == "Guide > Billing\nInvoices go out monthly."
    assert chunks[1].location == "Guide > Billing"


def test_table_rows_and_list_items_are_never_cut() -> None:
    rows = [
        Block("table_row", f"Plan {i} | {i * 10} EUR | includes feature {i}") for i in range(60)
    ]
    chunks = chunk_blocks(rows, target_tokens=60, overlap=0)
    for chunk in chunks:
        for line in chunk.content.split("\n"):
            assert line.startswith("| Plan ")
            assert line.endswith(tuple(f"{d} |" for d in "0123456789"))
    assert sum(c.content.count("Plan ") for c in chunks) == 60


def test_every_chunk_with_rows_of_a_table_repeats_its_header_as_markdown() -> None:
    blocks = [
        Block("heading", "Rentals", level=1, page=1),
        Block("paragraph", "Prices per boat.", page=1),
        Block("table_header", "Boat | Half day | Full day", page=1),
        *(Block("table_row", f"Kayak {i} | {i} EUR | {2 * i} EUR", page=1) for i in range(40)),
        Block("paragraph", "Life vests are included.", page=2),
    ]
    chunks = chunk_blocks(blocks, target_tokens=80, overlap=0.1)
    with_rows = [c for c in chunks if "| Kayak" in c.content]
    assert len(with_rows) > 2
    for chunk in with_rows:
        lines = chunk.content.split("\n")
        first_row = next(i for i, line in enumerate(lines) if line.startswith("| Kayak"))
        assert lines[first_row - 2 : first_row] == [
            "| Boat | Half day | Full day |",
            "|---|---|---|",
        ]
        assert chunk.location == "Rentals, page 1"
    assert sum(c.content.count("| Kayak") for c in chunks) == 40, "no row lost or repeated"
    assert chunks[-1].location == "Rentals, page 2"


def test_chunks_stay_near_the_target_and_overlap() -> None:
    sentences = [f"Sentence number {i} talks about topic {i}." for i in range(200)]
    blocks = [Block("paragraph", " ".join(sentences[i : i + 5])) for i in range(0, 200, 5)]
    chunks = chunk_blocks(blocks, target_tokens=100, overlap=0.2)
    assert len(chunks) > 5
    assert all(c.token_count <= 130 for c in chunks)
    # the start of each chunk repeats the end of the previous one
    for before, after in zip(chunks, chunks[1:], strict=False):
        first_line = after.content.split("\n")[0]
        assert first_line.split(". ")[-1].rstrip(".") in before.content


def test_a_giant_paragraph_is_split_at_sentences() -> None:
    text = " ".join(f"This is sentence {i}." for i in range(400))
    chunks = chunk_blocks([Block("paragraph", text)], target_tokens=100, overlap=0)
    assert len(chunks) >= 10
    assert all(c.content.endswith(".") for c in chunks)


def test_pdf_chunks_know_their_pages() -> None:
    blocks = [Block("paragraph", "x" * 300, page=1), Block("paragraph", "y" * 300, page=2)]
    [chunk] = chunk_blocks(blocks, target_tokens=500)
    assert chunk.location == "pages 1-2"
    assert estimate_tokens("abcd" * 10) == 10
