"""Which torch device the embeddings run on: one rule for invariants and fingerprints."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA when a GPU is present, else the CPU; anything else goes to torch.

    torch is imported here, not at module level, so that commands that only read stored
    vectors (explain, report, similar) start in a fraction of the time.
    """
    import torch

    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
