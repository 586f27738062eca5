"""How well vectors of real band structures predict what is known about the materials.

Leave-one-out k-nearest-neighbour measures on a ``RealSet`` (L2 distance, as the store's
search uses): band-gap regression (mean of the neighbours' gaps, MAE in eV),
metal/insulator by the neighbours' majority, and same-prototype precision@k. The same
measures apply to any vectors, so the fingerprint is judged beside simple peers: PCA of the
raw pictures with as many components as the fingerprint has numbers, and element fractions.
"""

from __future__ import annotations

import numpy as np

from atlas2d.embeddings.bands.real_set import RealSet

K = 5


def neighbours(vectors: np.ndarray, k: int = K) -> np.ndarray:
    """(n, k) indices of each row's k nearest other rows (L2; ties broken by index)."""
    squared = (vectors**2).sum(axis=1)
    distances = squared[:, None] + squared[None, :] - 2 * vectors @ vectors.T
    np.fill_diagonal(distances, np.inf)
    return np.argsort(distances, axis=1, kind="stable")[:, :k]


def knn_scores(vectors: np.ndarray, real: RealSet, k: int = K, queries: np.ndarray | None = None) -> dict[str, float]:
    """Leave-one-out kNN: ``gap_mae_eV``, ``metal_accuracy``, ``prototype_p_at_k``.

    Every material is a query (or those at ``queries``), answered by its k nearest other
    materials of the whole set. Prototype precision counts only queries whose prototype has
    at least one other member in the set (otherwise no neighbour can be right).
    """
    chosen = np.arange(len(real)) if queries is None else np.asarray(queries)
    near = neighbours(np.asarray(vectors, dtype=np.float64), k)[chosen]
    gaps, metals = real.gaps, real.metals
    predicted_gap = gaps[near].mean(axis=1)
    predicted_metal = metals[near].mean(axis=1) > 0.5
    prototypes = np.array(real.prototypes)
    shared = np.array([p != "" and (prototypes == p).sum() > 1 for p in prototypes[chosen]])
    same = prototypes[near] == prototypes[chosen][:, None]
    return {
        "gap_mae_eV": float(np.abs(predicted_gap - gaps[chosen]).mean()),
        "metal_accuracy": float((predicted_metal == metals[chosen]).mean()),
        f"prototype_p_at_{k}": float(same[shared].mean()),
    }


def picture_vectors(real: RealSet) -> np.ndarray:
    """One raw vector per band structure: mean and max over its segment pictures (like the fingerprint's pooling)."""
    return np.stack([np.concatenate([p.mean(axis=0).ravel(), p.max(axis=0).ravel()]) for p in real.pictures])


def pca(vectors: np.ndarray, components: int) -> np.ndarray:
    """Projection on the first ``components`` principal axes (numpy SVD, deterministic)."""
    centred = vectors - vectors.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    return centred @ axes[:components].T


def mean_gap_mae(real: RealSet) -> float:
    """MAE of predicting every gap as the mean of the others: the floor any vector must beat."""
    n = len(real)
    others = (real.gaps.sum() - real.gaps) / (n - 1)
    return float(np.abs(others - real.gaps).mean())


def compare(fingerprints: np.ndarray, real: RealSet, k: int = K, queries: np.ndarray | None = None) -> dict[str, float]:
    """The fingerprint beside its peers on one real set, keys prefixed by method.

    ``fingerprint_*``, ``pca_*`` (raw pictures, as many components as the fingerprint has
    numbers) and ``composition_*`` (element fractions), each with ``gap_mae_eV``,
    ``metal_accuracy`` and ``prototype_p_at_k``, over all materials or the ``queries``;
    ``mean_gap_mae_eV`` is the no-vector floor.
    """
    peers = {
        "fingerprint": fingerprints,
        "pca": pca(picture_vectors(real), fingerprints.shape[1]),
        "composition": real.compositions(),
    }
    result = {f"{name}_{key}": value for name, vectors in peers.items() for key, value in knn_scores(vectors, real, k, queries).items()}
    return {**result, "mean_gap_mae_eV": mean_gap_mae(real)}
