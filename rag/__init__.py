"""Knowledge: ingestion, embeddings, hybrid retrieval, the agent and text chat (issue #4)."""
