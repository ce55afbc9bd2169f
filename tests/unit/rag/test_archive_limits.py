"""ZIP limits: what a directory declares, and what inflating really produces, both capped."""

from __future__ import annotations

import io
import zipfile

import pytest

from rag.archive_limits import ZipLimits, check_declared, check_inflated, member_count
from rag.errors import ArchiveTooLarge, IngestionError
from tests.support.zip_bombs import (
    deflated,
    docx_bomb,
    nested_docx_bomb,
    repeated,
    stored,
    write_zip,
    xlsx_bomb,
)
from tests.unit.rag.documents import make_docx

DEFAULT = ZipLimits()


@pytest.fixture(scope="module")
def gigabyte_docx() -> bytes:
    return docx_bomb(1100)


def test_a_real_docx_passes_both_checks() -> None:
    data = make_docx("Handbook", [("Leave", ["Staff get 28 days."])], table=[["a", "b"]])
    declared = check_declared(data, DEFAULT)
    assert declared == check_inflated(data, DEFAULT) > 0


def test_a_gigabyte_docx_bomb_is_refused_from_its_directory(gigabyte_docx: bytes) -> None:
    assert len(gigabyte_docx) < 5_000_000
    with pytest.raises(ArchiveTooLarge, match="times its packed size"):
        check_declared(gigabyte_docx, DEFAULT)


def test_without_the_ratio_limit_the_size_cap_still_holds(gigabyte_docx: bytes) -> None:
    limits = ZipLimits(max_unpacked_bytes=50_000_000, max_ratio=10_000)
    with pytest.raises(ArchiveTooLarge, match="more than 50000000 bytes"):
        check_declared(gigabyte_docx, limits)


def test_inflating_stops_at_the_cap_even_when_the_directory_says_little() -> None:
    # Declared sizes of 100 KB each: the directory passes; counting while inflating does not.
    member = repeated("word/document.xml", head=b"<x>", unit=b"<p/>", megabytes=30, tail=b"</x>")
    parts = [member, *[deflated(b"<p/>" * 2000, f"part{i}.xml") for i in range(3)]]
    honest = write_zip(parts)
    limits = ZipLimits(max_unpacked_bytes=20_000_000, max_ratio=10_000)
    with pytest.raises(ArchiveTooLarge, match="more than 20000000 bytes"):
        check_inflated(honest, limits)


def test_an_archive_that_lies_about_sizes_is_refused_as_damaged() -> None:
    lying = docx_bomb(50, declared_size=1000)
    check_declared(lying, DEFAULT)  # the directory looks harmless
    with pytest.raises(IngestionError, match="damaged"):
        check_inflated(lying, DEFAULT)


def test_an_embedded_archive_is_inflated_against_the_same_budget() -> None:
    bomb = nested_docx_bomb(1100)
    check_declared(bomb, DEFAULT)  # stored inner archive: ratio 1, small
    with pytest.raises(ArchiveTooLarge):
        check_inflated(bomb, DEFAULT)


def test_archives_nested_too_deep_are_refused() -> None:
    inner = write_zip([deflated(b"hello", "a.txt")])
    for depth in range(3):
        inner = write_zip([stored(inner, f"level{depth}.zip")])
    with pytest.raises(ArchiveTooLarge, match="nests archives"):
        check_inflated(inner, DEFAULT)


def test_an_xlsx_like_bomb_is_refused_from_its_directory() -> None:
    with pytest.raises(ArchiveTooLarge):
        check_declared(xlsx_bomb(1100), DEFAULT)


def test_the_member_count_comes_from_the_end_record() -> None:
    many = write_zip([stored(b"", f"f{i}") for i in range(300)])
    assert member_count(many) == 300
    with pytest.raises(ArchiveTooLarge, match="300 parts"):
        check_declared(many, ZipLimits(max_members=100))


def test_a_truncated_archive_is_damaged_not_a_crash() -> None:
    data = make_docx("T", [("H", ["x"])])
    with pytest.raises(IngestionError, match="damaged"):
        check_declared(data[: len(data) // 2], DEFAULT)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "x")
    with pytest.raises(IngestionError):
        member_count(buffer.getvalue()[:-10])
