"""Band-structure embeddings: the band picture, the fingerprint model, its training and search."""
