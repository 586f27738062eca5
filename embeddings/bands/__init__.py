"""Band-structure embeddings: the band picture, the fingerprint model, its training, refresh, search and plots."""
