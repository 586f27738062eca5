"""Embeddings of the store's records: structure invariants (``structure``) and band fingerprints (``bands``)."""
