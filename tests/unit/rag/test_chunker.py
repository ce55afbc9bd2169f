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
            assert line.startswith("Plan ")
            assert line.endswith(tuple("0123456789"))
    assert sum(c.content.count("Plan ") for c in chunks) == 60


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
