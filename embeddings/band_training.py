"""Train the band-structure autoencoder and its flat-band head, reproducibly from a seed.

Training data: the stored band structures plus generated tight-binding ones
(``embeddings.tight_binding``), because the real sample carries too few band structures to
learn from. The autoencoder learns from all pictures (no labels); the flat-band head, a
logistic regression on the frozen fingerprints, learns from the generated ones, whose
flat-band flag is computed from their bands.
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

from embeddings.bands import MODEL_NAME, BandAutoencoder, FingerprintModel, rasterise, resolve_device
from embeddings.tight_binding import FAMILIES, GeneratedBands, generate


@dataclass(frozen=True)
class TrainingSettings:
    """Everything that decides the weights; written into the record beside them."""

    seed: int = 7
    n_per_family: int = 300
    epochs: int = 12
    batch_size: int = 128
    learning_rate: float = 2e-3
    head_steps: int = 400


def train(
    settings: TrainingSettings,
    stored_pictures: Sequence[np.ndarray] = (),
    device: str = "auto",
    report: Callable[[int, float], None] | None = None,
) -> tuple[FingerprintModel, dict[str, Any]]:
    """Train on generated models (from ``settings.seed``) plus ``stored_pictures``.

    Returns the model and the training record. The same settings and inputs give the same
    weights on the same device (seeded initialisation, seeded shuffling, no data races).
    """
    started = time.perf_counter()
    torch.manual_seed(settings.seed)
    generated = generate(settings.n_per_family, settings.seed)
    pictures = [rasterise(g.record.segments, g.record.fermi_level) for g in generated] + list(stored_pictures)
    target = resolve_device(device)
    net = BandAutoencoder().to(target)
    segments = torch.from_numpy(np.concatenate(pictures)).unsqueeze(1)
    symmetric = (segments + torch.flip(segments, dims=[3])) / 2
    optimiser = torch.optim.Adam(list(net.encoder.parameters()) + list(net.decoder.parameters()), lr=settings.learning_rate)
    shuffler = torch.Generator().manual_seed(settings.seed)
    loss_fn = nn.BCEWithLogitsLoss()
    loss_value = float("nan")
    for epoch in range(settings.epochs):
        order = torch.randperm(len(segments), generator=shuffler)
        total, batches = 0.0, 0
        for lo in range(0, len(order), settings.batch_size):
            idx = order[lo : lo + settings.batch_size]
            x, y = segments[idx].to(target), symmetric[idx].to(target)
            loss = loss_fn(net(x), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total, batches = total + loss.item(), batches + 1
        loss_value = total / batches
        if report:
            report(epoch + 1, loss_value)
    net.eval()
    model = FingerprintModel(net=net, device=target, identifier=f"{MODEL_NAME}:untrained-head")
    head_accuracy = _train_flat_head(model, generated, settings)
    record = {
        "model": MODEL_NAME,
        "settings": settings.__dict__,
        "data": {
            "generated": f"embeddings.tight_binding.generate(n_per_family={settings.n_per_family}, seed={settings.seed})",
            "families": list(FAMILIES),
            "generated_band_structures": len(generated),
            "stored_band_structures": len(stored_pictures),
            "segment_pictures": len(segments),
        },
        "final_reconstruction_loss_bce": round(loss_value, 5),
        "flat_head_training_accuracy": round(head_accuracy, 4),
        "training_seconds": round(time.perf_counter() - started, 1),
        "device": str(target),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    return model, record


def _train_flat_head(model: FingerprintModel, generated: list[GeneratedBands], settings: TrainingSettings) -> float:
    """Fit the logistic flat-band head on frozen fingerprints; return its training accuracy."""
    fingerprints = model.encode([rasterise(g.record.segments, g.record.fermi_level) for g in generated])
    x = torch.from_numpy(fingerprints).to(model.device)
    y = torch.tensor([float(g.flat_band) for g in generated], device=model.device)
    mean, std = x.mean(0), x.std(0).clamp(min=1e-6)
    head = model.net.flat_head
    optimiser = torch.optim.Adam(head.parameters(), lr=0.05)
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(settings.head_steps):
        loss = loss_fn(head((x - mean) / std).squeeze(1), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        head.weight.div_(std)
        head.bias.sub_((head.weight * mean).sum())
        predicted = head(x).squeeze(1) > 0
    return float((predicted == y.bool()).float().mean())


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
