"""How a package contributes to the app: its routes, its dependencies, its lifespan.

Each package exposes ``plugin(settings) -> PackagePlugin`` in its own ``plugin.py``; the app
factory composes them, so adding a capability never means editing a central registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from litestar import Litestar
from litestar.di import Provide
from litestar.plugins import PluginProtocol
from litestar.types import ControllerRouterHandler

Lifespan = Callable[[Litestar], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class PackagePlugin:
    name: str
    route_handlers: Sequence[ControllerRouterHandler] = ()
    # App-wide dependencies, e.g. ``{"principal": Provide(authenticate)}``.
    dependencies: Mapping[str, Provide] = field(default_factory=dict)
    # Entered in order after the database is open (the runtime holds DATABASE), exited in reverse.
    lifespans: Sequence[Lifespan] = ()
    # Litestar plugins the package needs app-wide (e.g. the console's template engine).
    app_plugins: Sequence[PluginProtocol] = ()
