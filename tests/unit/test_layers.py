"""The layers' arrows run one way: composition root → features → kernel.

This walks every import (module level or inside a function) of the product's packages and fails
on a back-edge: a kernel module importing a feature or the root, a feature importing another
feature, anything importing the root. The kernel is a list of module names (the lead moves them
into a subpackage later; update :data:`KERNEL` then). Edges that exist today and are still to be
removed are listed in :data:`KNOWN`, each with its reason; the test also fails when one of them
is gone, so the list only shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("voice_server", "rag", "billing", "dashboard_api")

# The shared kernel: every package may import these, and they import nothing but each other.
KERNEL = (
    "voice_server",  # the package's __init__ (the version)
    "voice_server.bot_config",
    "voice_server.brain",
    "voice_server.conversations",
    "voice_server.db",
    "voice_server.drain",
    "voice_server.errors",
    "voice_server.json_nesting",
    "voice_server.logs",
    "voice_server.metrics",
    "voice_server.middleware",
    "voice_server.plugin",
    "voice_server.principal",
    "voice_server.problems",
    "voice_server.request_context",
    "voice_server.runtime",
    "voice_server.settings",
    "voice_server.turns",
    "voice_server.vendors",
    "voice_server.wire",
)
# The composition root: wires the features together; nothing imports it. The web front ends
# (the owners' console, the widget's files and the demo page) compose several features into
# pages, so they sit with the root rather than inside one feature.
ROOT_MODULES = (
    "dashboard_api.console",
    "voice_server.web",
    "voice_server.__main__",
    "voice_server.app",
    "voice_server.openapi",  # the app's OpenAPI document and API reference assets
    "voice_server.cli",
    "voice_server.health",
    "voice_server.openapi",  # the app's OpenAPI document and its offline reference page
    "voice_server.server",
    "voice_server.settings_reference",
    "voice_server.workers",
)
FEATURES = ("voice_server.voice", "rag", "billing", "dashboard_api")

# (importer, imported feature or root module): today's back-edges, to be removed.
KNOWN = {
    # settings validate a plans file at load time with billing's parser (imported lazily).
    ("voice_server.settings", "billing"),
    # the usage page types its dependency with billing's quota service.
    ("dashboard_api.api.usage", "billing"),
}


def _layer(module: str) -> str:
    if any(module == m or module.startswith(m + ".") for m in ROOT_MODULES):
        return "root"
    for feature in FEATURES:
        if module == feature or module.startswith(feature + "."):
            return feature
    if module in KERNEL or any(module.startswith(k + ".") for k in KERNEL if k != "voice_server"):
        return "kernel"
    if module.split(".")[0] in PACKAGES:
        return "unclassified"  # a new module: say which layer it belongs to
    return "outside"  # the standard library and third-party packages


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.add(name)
            # `from voice_server import conversations` imports a module, not a name.
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def _modules() -> list[tuple[Path, str]]:
    return [
        (path, _module_name(path))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    ]


def test_every_module_has_a_layer() -> None:
    unclassified = [name for _, name in _modules() if _layer(name) == "unclassified"]
    assert not unclassified, f"add these to KERNEL or ROOT_MODULES: {unclassified}"


def _back_edges() -> set[tuple[str, str]]:
    edges: set[tuple[str, str]] = set()
    for path, importer in _modules():
        mine = _layer(importer)
        if mine == "root":
            continue  # the root may import everything
        for imported in _imports(path, importer):
            theirs = _layer(imported)
            if theirs in ("outside", "kernel", "unclassified") or theirs == mine:
                continue
            edges.add((importer, imported if theirs == "root" else theirs))
    return edges


def test_no_new_back_edges_between_layers() -> None:
    edges = _back_edges()
    new = sorted(edges - KNOWN)
    assert not new, "imports against the layers (root → features → kernel):\n" + "\n".join(
        f"  {a} imports {b}" for a, b in new
    )


def test_the_known_back_edges_still_exist() -> None:
    gone = sorted(KNOWN - _back_edges())
    assert not gone, f"remove these from KNOWN, they are fixed: {gone}"


def test_the_walker_sees_imports_and_layers(tmp_path: Path) -> None:
    assert _layer("voice_server.voice.session") == "voice_server.voice"
    assert _layer("voice_server.conversations") == "kernel"
    assert _layer("voice_server.app") == "root"
    fake = tmp_path / "x.py"
    fake.write_text("def f():\n    from rag.chat import run_turn\n")
    assert "rag.chat" in _imports(fake, "voice_server.x")
