"""The built widget (widget/dist/parley.js): its bytes, content hash and SRI integrity."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

# A source checkout or an editable install; the Docker image points PARLEY_WIDGET_BUNDLE at its
# copy instead.
DEFAULT_BUNDLE = Path(__file__).resolve().parents[2] / "widget" / "dist" / "parley.js"
SCRIPT_PATH = "/widget/parley.js"


@dataclass(frozen=True)
class WidgetBundle:
    body: bytes
    digest: str  # first 16 hex digits of the SHA-256: the versioned file name
    integrity: str  # Subresource Integrity value for the <script> tag

    @property
    def versioned_path(self) -> str:
        return f"/widget/parley.{self.digest}.js"

    @classmethod
    def from_bytes(cls, body: bytes) -> WidgetBundle:
        sri = base64.b64encode(hashlib.sha384(body).digest()).decode()
        return cls(
            body=body, digest=hashlib.sha256(body).hexdigest()[:16], integrity=f"sha384-{sri}"
        )


def load_bundle(path: Path | None) -> WidgetBundle | None:
    """The bundle at ``path`` (default: the checkout's widget/dist), or None when it is missing
    (the server still runs; the script answers 404 and embed codes carry no integrity)."""
    try:
        return WidgetBundle.from_bytes((path or DEFAULT_BUNDLE).read_bytes())
    except FileNotFoundError:
        return None
