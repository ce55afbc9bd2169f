"""The owners' JSON API: auth, keys, bots, documents, conversations, analytics (issue #5)."""
