"""Documents generated for tests and benchmarks: PDF (written by hand), DOCX, HTML, Markdown."""

from __future__ import annotations

import io
from collections.abc import Sequence


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: Sequence[Sequence[str]], *, title: str | None = None) -> bytes:
    """A valid PDF whose pages hold the given lines of text (Helvetica, one line each).

    An empty page list entry makes a page without any text (as a scanned page would be)."""
    objects: list[bytes] = []
    # 1 catalog, 2 pages, 3 font, then per page: page object + content stream
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{pid} 0 R" for pid in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for pid, lines in zip(page_ids, pages, strict=True):
        ops = ["BT", "/F1 11 Tf", "14 TL", "50 780 Td"]
        for line in lines:
            ops.append(f"({_pdf_escape(line)}) Tj T*")
        ops.append("ET")
        if not lines:
            ops = ["0.5 g", "50 500 200 200 re f"]  # a grey box: pixels, no text
        stream = "\n".join(ops).encode("latin-1", "replace")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {pid + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info_id = None
    if title:
        objects.append(f"<< /Title ({_pdf_escape(title)}) >>".encode("latin-1", "replace"))
        info_id = len(objects)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R"
    if info_id:
        trailer += f" /Info {info_id} 0 R"
    out.write(trailer.encode() + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def make_encrypted_pdf(password: str = "s3cret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([["Top secret plans."]]))))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(
    title: str,
    sections: Sequence[tuple[str, Sequence[str]]],
    *,
    bullets: Sequence[str] = (),
    table: Sequence[Sequence[str]] = (),
) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.add_heading(title, level=1)
    for heading, paragraphs in sections:
        document.add_heading(heading, level=2)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    for bullet in bullets:
        document.add_paragraph(bullet, style="List Bullet")
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                grid.cell(r, c).text = cell
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_html(title: str, sections: Sequence[tuple[str, Sequence[str]]]) -> bytes:
    body = "".join(
        f"<h2>{heading}</h2>" + "".join(f"<p>{p}</p>" for p in paragraphs)
        for heading, paragraphs in sections
    )
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title><script>var x = 1;</script></head>"
        f"<body><nav>Home | About</nav><h1>{title}</h1>{body}</body></html>"
    ).encode()


def make_markdown(title: str, sections: Sequence[tuple[str, Sequence[str]]]) -> bytes:
    parts = [f"# {title}", ""]
    for heading, paragraphs in sections:
        parts += [f"## {heading}", ""]
        for paragraph in paragraphs:
            parts += [paragraph, ""]
    return "\n".join(parts).encode()


def make_layout_pdf(
    title: str,
    sections: Sequence[tuple[str, Sequence[str], Sequence[Sequence[str]]]],
    *,
    subtitle_size: int = 14,
) -> bytes:
    """A PDF as a word processor writes one (fpdf2): a large title, bold section headings,
    body paragraphs and ruled tables (first row the header). ``sections`` holds (heading,
    paragraphs, table rows)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title(title)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 20)
    pdf.multi_cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    for heading, paragraphs, table in sections:
        pdf.set_font("Helvetica", "B", subtitle_size)
        pdf.ln(2)
        pdf.multi_cell(0, 8, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 11)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        if table:
            with pdf.table() as grid:
                for row in table:
                    cells = grid.row()
                    for cell in row:
                        cells.cell(cell)
            pdf.ln(3)
    return bytes(pdf.output())
