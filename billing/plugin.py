"""What `billing` contributes to the app (see voice_server.plugin)."""

from __future__ import annotations

from voice_server.plugin import PackagePlugin
from voice_server.settings import Settings


def plugin(settings: Settings) -> PackagePlugin:
    return PackagePlugin(name="billing")
