"""Split assignment by duplicate cluster, deterministic and streaming.

A cluster (a material: all entries dedup found to be the same) goes whole into one split,
so the same material never appears in training and test. The split comes from a hash of
the seed and the cluster key, not from a shuffle: it needs no list of all clusters (so an
export streams), the same seed always gives the same assignment, and a cluster keeps its
split when other materials are added to the store.
"""

from __future__ import annotations

import hashlib

SPLIT_NAMES = ("train", "validation", "test")


def parse_fractions(text: str) -> tuple[float, float, float]:
    """``"0.8/0.1/0.1"`` -> (0.8, 0.1, 0.1); raises ``ValueError`` with the reason."""
    parts = text.split("/")
    if len(parts) != 3:
        raise ValueError(f"--split needs three fractions train/validation/test, got {text!r}")
    try:
        fractions = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError(f"--split fractions must be numbers, got {text!r}") from None
    if any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"--split fractions must be non-negative and sum to 1, got {text!r}")
    return fractions  # type: ignore[return-value]


def assign_split(cluster_key: str, seed: int, fractions: tuple[float, float, float]) -> str:
    """The split of a cluster: a uniform number from SHA-256(seed, key) against the fractions."""
    digest = hashlib.sha256(f"{seed}:{cluster_key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    bound = 0.0
    for name, fraction in zip(SPLIT_NAMES, fractions, strict=True):
        bound += fraction
        if u < bound:
            return name
    return next(name for name, f in reversed(list(zip(SPLIT_NAMES, fractions, strict=True))) if f > 0)
