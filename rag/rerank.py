"""Optional reranking of the fused candidates: a cross-encoder reads the question and each
passage together and scores their relevance in [0, 1]. Off by default (no PyPI package ships a
cross-encoder's weights); two sources behind one protocol:

- :class:`HttpReranker`: ``POST {base_url}/rerank`` as Text Embeddings Inference, vLLM, Jina and
  Cohere-compatible servers serve it (``{"query", "documents"}`` in, ``results`` with ``index``
  and ``relevance_score`` out).
- :class:`OnnxReranker`: a local model folder holding ``model.onnx`` and ``tokenizer.json`` of a
  cross-encoder (e.g. an ms-marco MiniLM export), run like :mod:`rag.local_embedder`: a worker
  thread, one intra-op thread.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np

from rag.errors import EmbedderUnavailable, FetchFailed


class Reranker(Protocol):
    @property
    def depth(self) -> int:
        """How many fused candidates are rescored."""
        ...

    async def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """One relevance in [0, 1] per passage, in the passages' order."""
        ...


class HttpReranker:
    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        depth: int = 20,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + "/rerank"
        self._model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.AsyncClient(timeout=timeout_s, headers=headers)
        self._depth = depth

    @property
    def depth(self) -> int:
        return self._depth

    async def aclose(self) -> None:
        await self._client.aclose()

    async def score(self, query: str, passages: Sequence[str]) -> list[float]:
        body = {"model": self._model, "query": query, "documents": list(passages),
                "top_n": len(passages)}  # fmt: skip
        try:
            response = await self._client.post(self._url, json=body)
        except httpx.HTTPError as exc:
            raise FetchFailed(f"the rerank endpoint did not answer ({exc!r})") from None
        if response.status_code != 200:
            raise FetchFailed(
                f"the rerank endpoint answered {response.status_code}: {response.text[:200]}",
                retryable=response.status_code in (408, 429) or response.status_code >= 500,
            )
        try:
            payload = response.json()
            items = payload["results"] if isinstance(payload, dict) else payload
            scores = [0.0] * len(passages)
            for item in items:
                raw = float(item.get("relevance_score", item.get("score")))
                # Servers that return logits (TEI without raw_scores=false) are squashed.
                scores[int(item["index"])] = raw if 0.0 <= raw <= 1.0 else _sigmoid(raw)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise FetchFailed(f"the rerank endpoint sent a malformed reply ({exc})") from None
        return scores


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


class OnnxReranker:
    """A cross-encoder from a local folder (``model.onnx`` + ``tokenizer.json``)."""

    def __init__(self, folder: Path, *, depth: int = 20, max_tokens: int = 384) -> None:
        self.folder = folder
        self._depth = depth
        self._max_tokens = max_tokens
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any, set[str]] | None = None
        for name in ("model.onnx", "tokenizer.json"):
            if not (folder / name).is_file():
                raise EmbedderUnavailable(f"the reranker folder {folder} has no {name}")

    @property
    def depth(self) -> int:
        return self._depth

    def _load(self) -> tuple[Any, Any, set[str]]:
        with self._lock:
            if self._loaded is None:
                import onnxruntime
                from tokenizers import Tokenizer

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                session = onnxruntime.InferenceSession(
                    str(self.folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
                )
                tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
                tokenizer.enable_truncation(max_length=self._max_tokens)
                tokenizer.no_padding()
                self._loaded = (session, tokenizer, {i.name for i in session.get_inputs()})
            return self._loaded

    def score_sync(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        session, tokenizer, inputs = self._load()
        encodings = tokenizer.encode_batch([(query, p) for p in passages])
        width = max(len(e.ids) for e in encodings)
        shape = (len(passages), width)
        ids, mask, types = (np.zeros(shape, dtype=np.int64) for _ in range(3))
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = e.attention_mask
            types[row, : len(e.ids)] = e.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        [logits] = session.run(None, {k: v for k, v in feed.items() if k in inputs})[:1]
        flat = np.asarray(logits).reshape(len(passages), -1)[:, -1]
        return [_sigmoid(float(x)) for x in flat]

    async def score(self, query: str, passages: Sequence[str]) -> list[float]:
        return await asyncio.to_thread(self.score_sync, query, list(passages))
