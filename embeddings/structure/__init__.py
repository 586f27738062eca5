"""Structure embeddings: isometry invariants of 2D-periodic atom sets, their refresh, dedup and structure search."""
