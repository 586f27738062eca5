"""Train the band-structure autoencoder and its flat-band head, reproducibly from a seed.

Training data: the stored band structures plus generated tight-binding ones
(``atlas2d.ingest.sources.tight_binding``), because no real sample carries band energies. The
autoencoder learns reconstruction from all pictures; the flat-band and family heads learn,
jointly with it, from the generated ones, whose labels are known (the flat-band flag is
computed from their bands).
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

from atlas2d.embeddings.bands.model import MODEL_NAME, BandAutoencoder, FingerprintModel, pool
from atlas2d.embeddings.bands.picture import rasterise
from atlas2d.embeddings.device import resolve_device
from atlas2d.ingest.sources.tight_binding import FAMILIES, GeneratedBands, generate


@dataclass(frozen=True)
class TrainingSettings:
    """Everything that decides the weights; written into the record beside them."""

    seed: int = 7
    n_per_family: int = 200
    epochs: int = 10
    batch_size: int = 48
    learning_rate: float = 2e-3
    family_weight: float = 1.0
    flat_weight: float = 0.3


def train(
    settings: TrainingSettings,
    stored_pictures: Sequence[np.ndarray] = (),
    device: str = "auto",
    report: Callable[[int, float], None] | None = None,
) -> tuple[FingerprintModel, dict[str, Any]]:
    """Train on generated models (from ``settings.seed``) plus ``stored_pictures``.

    Loss per batch of band structures: reconstruction (binary cross-entropy) of every
    segment picture, plus, for generated ones only, ``family_weight`` × the family
    cross-entropy and ``flat_weight`` × the flat-band cross-entropy of the heads on the
    pooled fingerprints. Returns the model and the training record. The same settings and
    inputs give the same weights on the same device (seeded initialisation and shuffling).
    """
    started = time.perf_counter()
    torch.manual_seed(settings.seed)
    generated = generate(settings.n_per_family, settings.seed)
    pictures = [rasterise(g.record.segments, g.record.fermi_level) for g in generated] + list(stored_pictures)
    family = torch.tensor([FAMILIES.index(g.family) for g in generated] + [-100] * len(stored_pictures))
    flat = torch.tensor([float(g.flat_band) for g in generated] + [0.0] * len(stored_pictures))
    labelled = torch.tensor([True] * len(generated) + [False] * len(stored_pictures))
    target = resolve_device(device)
    net = BandAutoencoder().to(target)
    optimiser = torch.optim.Adam(net.parameters(), lr=settings.learning_rate)
    shuffler = torch.Generator().manual_seed(settings.seed)
    reconstruction_loss, family_loss = nn.BCEWithLogitsLoss(), nn.CrossEntropyLoss(ignore_index=-100)
    flat_loss = nn.BCEWithLogitsLoss(reduction="none")
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
            "origin": "generated tight-binding band structures (not materials) plus the stored band structures",
            "families": list(FAMILIES),
            "generated_band_structures": len(generated),
            "stored_band_structures": len(stored_pictures),
            "segment_pictures": int(sum(p.shape[0] for p in pictures)),
        },
        "final_training_loss": round(loss_value, 5),
        "training_seconds": round(time.perf_counter() - started, 1),
        "device": str(target),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    return model, record


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
    neighbours = np.argsort(distances, axis=1)[:, :k]
    same = families[neighbours] == families[:, None]
    flags = np.array([g.flat_band for g in held_out])
    predicted = model.flat_band_probability(fingerprints) > 0.5
    result = {f"precision_at_{k}": float(same.mean()), "flat_band_accuracy": float((predicted == flags).mean())}
    for family in FAMILIES:
        result[f"precision_at_{k}_{family}"] = float(same[families == family].mean())
    return result
