"""Structure embeddings: isometry invariants of 2D-periodic atom sets, dedup and structure search."""
