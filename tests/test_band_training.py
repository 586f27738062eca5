"""Training is reproducible from its seed, and saved weights load with the identifier they record."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from atlas2d.embeddings.bands.model import load_model
from atlas2d.embeddings.bands.real_set import load_compact
from atlas2d.embeddings.bands.training import TrainingSettings, held_out, save, train, train_holding_out

TINY = TrainingSettings(seed=3, n_per_family=2, epochs=1, batch_size=4)


def _weights(settings: TrainingSettings) -> dict[str, torch.Tensor]:
    model, _ = train(settings, device="cpu")
    return model.net.state_dict()


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    first, second = _weights(TINY), _weights(TINY)
    assert all(torch.equal(first[name], second[name]) for name in first)
    other = _weights(TrainingSettings(seed=4, n_per_family=2, epochs=1, batch_size=4))
    assert not all(torch.equal(first[name], other[name]) for name in first)


def test_saved_weights_load_with_the_recorded_identifier(tmp_path: Path) -> None:
    model, record = train(TINY, device="cpu")
    identifier = save(model, record, tmp_path / "w.pt")
    written = json.loads((tmp_path / "w.json").read_text())
    assert written["identifier"] == identifier == load_model(tmp_path / "w.pt", "cpu").identifier
    assert written["settings"]["seed"] == 3
    assert written["data"]["generated_band_structures"] == 12


def test_held_out_real_materials_never_reach_training() -> None:
    """Training 'holding out' a fold gives the very weights of training on the other materials alone."""
    real = load_compact().subset(list(range(9)))
    settings = TrainingSettings(seed=3, n_per_family=2, epochs=1, batch_size=4, real_repeats=1, real_folds=3)
    held = held_out(real, settings)
    assert len(held) == 3
    model, record = train_holding_out(settings, real, device="cpu")
    alone, _ = train(settings, real.subset([i for i in range(9) if i not in held]), device="cpu")
    first, second = model.net.state_dict(), alone.net.state_dict()
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert record["held_out_real"]["labels"] == [real.labels[i] for i in held]
    assert record["held_out_real"]["materials"] == 3 and record["data"]["real_band_structures"] == 6
    assert 0.0 <= record["held_out_real"]["metal_accuracy"] <= 1.0
