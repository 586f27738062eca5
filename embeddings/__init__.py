"""Embeddings of the store's records: isometry invariants of structures (dedup, similarity)."""
