"""``docs/settings.md``, generated from :class:`voice_server.settings.Settings`: every variable,
its default and its description, in the sections the settings class keeps them in.

Regenerate with ``python -m voice_server.settings_reference > docs/settings.md``;
``tests/unit/test_settings_reference.py`` fails when the file and the class disagree.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, SecretStr
from pydantic_core import PydanticUndefined

from voice_server import settings as settings_module
from voice_server.settings import Settings

_SECTION = re.compile(r"^    # --- (?P<title>[^:(]+?)\s*(\(issue \d+\))?\s*:")
_FIELD = re.compile(r"^    (?P<name>[a-z][a-z0-9_]*)\s*:")


def _sections() -> list[tuple[str, list[str]]]:
    """Field names in source order under the class's ``# --- section`` markers."""
    fields = Settings.model_fields
    sections: list[tuple[str, list[str]]] = [("server", [])]
    source = inspect.getsource(Settings)
    for line in source.splitlines():
        if (marker := _SECTION.match(line)) is not None:
            title = marker.group("title").strip()
            if title.startswith("end of"):
                title = "other"
            sections.append((title, []))
        elif (field := _FIELD.match(line)) is not None and field.group("name") in fields:
            sections[-1][1].append(field.group("name"))
    return [(title, names) for title, names in sections if names]


def _default(value: Any) -> str:
    if value is PydanticUndefined or value is None:
        return "(unset)"
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, Path):
        return f"`{value}`"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    return f"`{value!r}`"


def _variables(prefix: str, name: str, alias: object) -> str:
    """``PARLEY_NAME``, or each name the setting is read from (``DATABASE_URL`` too, say)."""
    names = [f"{prefix}{name.upper()}"]
    if isinstance(alias, AliasChoices):
        names = [str(choice) for choice in alias.choices]
    return " or ".join(f"`{n}`" for n in names)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render() -> str:
    prefix = str(Settings.model_config.get("env_prefix", "")).upper()
    out = [
        "# Settings",
        "",
        "Every setting is an environment variable (or a line of `.env`). Generated from",
        f"`{settings_module.__name__}.Settings` by `python -m voice_server.settings_reference`;",
        "do not edit by hand.",
    ]
    for title, names in _sections():
        out += ["", f"## {title[0].upper()}{title[1:]}", "", "| variable | default | description |"]
        out.append("|---|---|---|")
        for name in names:
            info = Settings.model_fields[name]
            default = info.default_factory() if info.default_factory else info.default  # type: ignore[call-arg]
            out.append(
                f"| {_variables(prefix, name, info.validation_alias)} | {_cell(_default(default))} "
                f"| {_cell(info.description or '')} |"
            )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render(), end="")
