"""Train the band-structure autoencoder and its heads, reproducibly from a seed.

Training data: generated tight-binding band structures
(``atlas2d.ingest.sources.tight_binding``), real PBE band structures (a ``RealSet``, by
default the bundled copy of ``bands-gpaw``) and, optionally, the stored ones. The
autoencoder learns reconstruction from all pictures; the band-gap and metal heads from all
of them too, each band structure's gap being computed from its own bands (no outside
label); the flat-band and family heads from the generated ones, whose labels are known.

Real materials are held out honestly: the real set is cut into ``real_folds`` seeded folds
and the weights never see the first fold (neither its pictures nor its gaps); the record
gives the scores of those materials as queries against the whole set. ``cross_validate``
does the same for every fold, each with its own model.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from atlas2d.embeddings.bands.evaluation import knn_scores
from atlas2d.embeddings.bands.model import MODEL_NAME, BandAutoencoder, FingerprintModel, pool
from atlas2d.embeddings.bands.picture import GAP_THRESHOLD, band_gap, rasterise
from atlas2d.embeddings.bands.real_set import RealSet
from atlas2d.embeddings.device import resolve_device
from atlas2d.ingest.sources.tight_binding import FAMILIES, GeneratedBands, generate

Labelled = tuple[np.ndarray, float]
"""A picture with the gap (eV) of the band structure it was drawn from."""


@dataclass(frozen=True)
class TrainingSettings:
    """Everything that decides the weights; written into the record beside them."""

    seed: int = 7
    n_per_family: int = 150
    epochs: int = 10
    batch_size: int = 48
    learning_rate: float = 2e-3
    family_weight: float = 1.0
    flat_weight: float = 0.3
    gap_weight: float = 0.5
    metal_weight: float = 0.3
    real_repeats: int = 3
    """Each real band structure is shown this many times per epoch (they are few beside the generated ones)."""
    real_folds: int = 3
    """The real set is cut into this many seeded folds; the first is held out of training."""


def train(
    settings: TrainingSettings,
    real: RealSet | None = None,
    stored: Sequence[Labelled] = (),
    device: str = "auto",
    report: Callable[[int, float], None] | None = None,
) -> tuple[FingerprintModel, dict[str, Any]]:
    """Train on generated models (from ``settings.seed``), the real set and ``stored`` pictures.

    Loss per batch of band structures: reconstruction (binary cross-entropy) of every
    segment picture; ``gap_weight`` × the squared error of the gap head (eV) and
    ``metal_weight`` × the metal cross-entropy on every band structure; for generated ones
    also ``family_weight`` × the family cross-entropy and ``flat_weight`` × the flat-band
    cross-entropy. Returns the model and the training record. The same settings and inputs
    give the same weights on the same device (seeded initialisation and shuffling).
    """
    started = time.perf_counter()
    torch.manual_seed(settings.seed)
    generated = generate(settings.n_per_family, settings.seed)
    real_items = [] if real is None else list(zip(real.pictures, real.gaps.tolist(), strict=True)) * settings.real_repeats
    pictures = [rasterise(g.record.segments, g.record.fermi_level) for g in generated]
    gaps = [band_gap(g.record.segments, g.record.fermi_level) for g in generated]
    pictures += [p for p, _ in real_items] + [p for p, _ in stored]
    gaps += [g for _, g in real_items] + [g for _, g in stored]
    unlabelled = len(pictures) - len(generated)
    family = torch.tensor([FAMILIES.index(g.family) for g in generated] + [-100] * unlabelled)
    flat = torch.tensor([float(g.flat_band) for g in generated] + [0.0] * unlabelled)
    labelled = torch.tensor([True] * len(generated) + [False] * unlabelled)
    gap = torch.tensor(gaps, dtype=torch.float32)
    metal = (gap < GAP_THRESHOLD).float()
    target = resolve_device(device)
    net = BandAutoencoder().to(target)
    optimiser = torch.optim.Adam(net.parameters(), lr=settings.learning_rate)
    shuffler = torch.Generator().manual_seed(settings.seed)
    reconstruction_loss, family_loss = nn.BCEWithLogitsLoss(), nn.CrossEntropyLoss(ignore_index=-100)
    flat_loss = nn.BCEWithLogitsLoss(reduction="none")
    metal_loss, gap_loss = nn.BCEWithLogitsLoss(), nn.MSELoss()
    loss_value = float("nan")
    for epoch in range(settings.epochs):
        order = torch.randperm(len(pictures), generator=shuffler)
        total, batches = 0.0, 0
        for lo in range(0, len(order), settings.batch_size):
            idx = order[lo : lo + settings.batch_size].tolist()
            x = torch.from_numpy(np.concatenate([pictures[i] for i in idx])).unsqueeze(1).to(target)
            owner = torch.repeat_interleave(torch.arange(len(idx)), torch.tensor([pictures[i].shape[0] for i in idx]))
            codes = net.encode_segments(x)
            fingerprints = pool(codes, owner.to(target), len(idx))
            loss = reconstruction_loss(net.decoder(codes), (x + torch.flip(x, dims=[3])) / 2)
            loss = loss + settings.gap_weight * gap_loss(net.gap_head(fingerprints).squeeze(1), gap[idx].to(target))
            loss = loss + settings.metal_weight * metal_loss(net.metal_head(fingerprints).squeeze(1), metal[idx].to(target))
            mask = labelled[idx].to(target)
            if bool(mask.any()):
                loss = loss + settings.family_weight * family_loss(net.family_head(fingerprints), family[idx].to(target))
                flat_terms = flat_loss(net.flat_head(fingerprints).squeeze(1), flat[idx].to(target))
                loss = loss + settings.flat_weight * flat_terms[mask].mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total, batches = total + loss.item(), batches + 1
        loss_value = total / batches
        if report:
            report(epoch + 1, loss_value)
    net.eval()
    model = FingerprintModel(net=net, device=target, identifier=f"{MODEL_NAME}:unsaved")
    record = {
        "model": MODEL_NAME,
        "settings": settings.__dict__,
        "data": {
            "generated": f"ingest.sources.tight_binding.generate(n_per_family={settings.n_per_family}, seed={settings.seed})",
            "origin": "generated tight-binding band structures (not materials), real PBE band structures, stored band structures",
            "families": list(FAMILIES),
            "generated_band_structures": len(generated),
            "real_band_structures": 0 if real is None else len(real),
            "stored_band_structures": len(stored),
            "segment_pictures": int(sum(p.shape[0] for p in pictures)),
        },
        "final_training_loss": round(loss_value, 5),
        "training_seconds": round(time.perf_counter() - started, 1),
        "device": str(target),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    return model, record


def folds(real: RealSet, count: int, seed: int) -> list[np.ndarray]:
    """``count`` disjoint index sets covering the real set, from a seeded permutation."""
    return np.array_split(np.random.default_rng(seed).permutation(len(real)), count)


def held_out(real: RealSet, settings: TrainingSettings) -> np.ndarray:
    """Indices of the real materials the weights never see: the first of ``settings.real_folds`` folds."""
    return np.sort(folds(real, settings.real_folds, settings.seed)[0])


def train_holding_out(
    settings: TrainingSettings,
    real: RealSet,
    stored: Sequence[Labelled] = (),
    device: str = "auto",
    report: Callable[[int, float], None] | None = None,
) -> tuple[FingerprintModel, dict[str, Any]]:
    """``train`` without the held-out real materials; the record names them and gives their scores.

    Scores: each held-out material's k nearest other materials of the whole real set, all
    encoded by this model (5-NN gap MAE, metal/insulator accuracy, prototype precision@5).
    """
    held = held_out(real, settings)
    model, record = train(settings, real.subset(np.setdiff1d(np.arange(len(real)), held)), stored, device, report)
    scores = knn_scores(model.encode(real.pictures), real, queries=held)
    record["held_out_real"] = {
        "scheme": f"fold 1 of {settings.real_folds} seeded folds (seed {settings.seed}) never seen in training; each is "
        f"queried against all {len(real)} real materials",
        "materials": len(held),
        **{key: round(value, 4) for key, value in scores.items()},
        "labels": [real.labels[i] for i in held],
    }
    return model, record


def cross_validate(
    settings: TrainingSettings,
    real: RealSet,
    device: str = "auto",
    report: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Every real material judged by a model that never saw it: one model per fold.

    For each of ``settings.real_folds`` folds, train without it, encode every real
    picture, and predict each of the fold's materials from its k nearest other materials
    (gap: their mean; metal: their majority; prototype precision@k). Costs one training
    per fold.
    """
    gap_errors, metal_hits, same_prototype = [], [], []
    for n, held in enumerate(folds(real, settings.real_folds, settings.seed)):
        model, _ = train(settings, real.subset(np.setdiff1d(np.arange(len(real)), held)), device=device)
        scores = knn_scores(model.encode(real.pictures), real, queries=held)
        gap_errors.append(scores["gap_mae_eV"] * len(held))
        metal_hits.append(scores["metal_accuracy"] * len(held))
        same_prototype.append(scores["prototype_p_at_5"])
        if report:
            report(n + 1)
    return {
        "scheme": f"{settings.real_folds}-fold cross-validation over real materials (seed {settings.seed}), one model per fold",
        "materials": len(real),
        "gap_mae_eV": round(sum(gap_errors) / len(real), 4),
        "metal_accuracy": round(sum(metal_hits) / len(real), 4),
        "prototype_p_at_5_mean_of_folds": round(float(np.mean(same_prototype)), 4),
    }


def save(model: FingerprintModel, record: dict[str, Any], path: Path) -> str:
    """Write the weights and, beside them, the JSON record of how they were made; return the model id."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.net.state_dict().items()}
    torch.save({"model": state}, path)
    identifier = f"{MODEL_NAME}:{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"
    path.with_suffix(".json").write_text(json.dumps({**record, "identifier": identifier}, indent=2, ensure_ascii=False) + "\n")
    return identifier


def evaluate(model: FingerprintModel, held_out: list[GeneratedBands], k: int = 10) -> dict[str, float]:
    """Family precision of the k nearest neighbours and flat-band head accuracy on held-out models."""
    fingerprints = model.encode([rasterise(g.record.segments, g.record.fermi_level) for g in held_out])
    families = np.array([g.family for g in held_out])
    distances = ((fingerprints[:, None, :] - fingerprints[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    near = np.argsort(distances, axis=1)[:, :k]
    same = families[near] == families[:, None]
    flags = np.array([g.flat_band for g in held_out])
    predicted = model.flat_band_probability(fingerprints) > 0.5
    result = {f"precision_at_{k}": float(same.mean()), "flat_band_accuracy": float((predicted == flags).mean())}
    for family in FAMILIES:
        result[f"precision_at_{k}_{family}"] = float(same[families == family].mean())
    return result
