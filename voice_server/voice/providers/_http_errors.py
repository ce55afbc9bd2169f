"""HTTP status to :class:`ProviderError`: the one ladder every vendor adapter uses at its seam
(it lives with the tree in :mod:`voice_server.vendors`; the speech adapters import it here)."""

from __future__ import annotations

from voice_server.vendors import error_for_status, retry_after

__all__ = ["error_for_status", "retry_after"]
