"""Prometheus instruments of the knowledge package, registered on the app's Metrics."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Histogram

from voice_server.metrics import Metrics


@dataclass(frozen=True)
class RagMetrics:
    search_seconds: Histogram
    documents_processed: Counter
    chat_first_token_seconds: Histogram

    @classmethod
    def register(cls, metrics: Metrics) -> RagMetrics:
        return cls(
            search_seconds=metrics.histogram(
                "parley_rag_search_seconds",
                "Knowledge search time (query embedding, SQL, fusion), by mode.",
                ["mode"],
            ),
            documents_processed=metrics.counter(
                "parley_rag_documents_processed_total",
                "Documents the ingestion worker finished, by outcome (ready, failed).",
                ["outcome"],
            ),
            chat_first_token_seconds=metrics.histogram(
                "parley_chat_first_token_seconds",
                "Time from a chat message to the first token of the reply.",
            ),
        )
