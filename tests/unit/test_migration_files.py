from __future__ import annotations

from pathlib import Path

import pytest

from voice_server.db.migrations import Migration, load_migrations, pending
from voice_server.errors import DatabaseSetupError


def test_shipped_migrations_start_at_one_and_are_unique() -> None:
    # Packages number their migrations in their own ranges (see voice_server/db/migrations/README).
    versions = [m.version for m in load_migrations()]
    assert versions[0] == 1
    assert versions == sorted(set(versions))


def test_badly_named_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text("SELECT 1;")
    (tmp_path / "2_bad-name.sql").write_text("SELECT 1;")
    with pytest.raises(DatabaseSetupError, match="2_bad-name.sql"):
        load_migrations(tmp_path)


def test_duplicate_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_one.sql").write_text("SELECT 1;")
    (tmp_path / "0001_other.sql").write_text("SELECT 2;")
    with pytest.raises(DatabaseSetupError, match="share version 0001"):
        load_migrations(tmp_path)


def test_pending_skips_applied_and_keeps_order() -> None:
    one, two, three = (Migration(v, f"m{v}", f"SELECT {v};") for v in (1, 2, 3))
    assert pending([one, two, three], {1: one.checksum}) == [two, three]


def test_editing_an_applied_migration_is_caught() -> None:
    original = Migration(1, "m1", "SELECT 1;")
    edited = Migration(1, "m1", "SELECT 42;")
    with pytest.raises(DatabaseSetupError, match="changed after it was applied"):
        pending([edited], {1: original.checksum})
