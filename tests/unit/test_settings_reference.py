"""docs/settings.md is generated from the settings class and kept current by this test."""

from __future__ import annotations

from pathlib import Path

from voice_server.settings import Settings
from voice_server.settings_reference import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_the_settings_reference_is_current() -> None:
    assert DOC.read_text() == render(), (
        "docs/settings.md is stale: python -m voice_server.settings_reference > docs/settings.md"
    )


def test_every_setting_is_documented_once_with_a_description() -> None:
    text = render()
    for name, info in Settings.model_fields.items():
        assert text.count(f"`PARLEY_{name.upper()}`") == 1, name
        assert info.description, f"{name} has no description"
