"""Which torch device the embeddings run on: one rule for invariants and fingerprints."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

GPU_DRIVER_NODES = ("/dev/nvidiactl", "/proc/driver/nvidia", "/dev/kfd")
"""Paths that exist on Linux wherever a CUDA (NVIDIA) or ROCm (AMD) GPU is visible, containers included."""


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


def runs_on_cpu(device: str | torch.device = "auto") -> bool:
    """Whether ``device`` resolves to the CPU, answered without importing torch where no GPU can be.

    The invariants' CPU path is compiled numba code that needs nothing from torch, and importing
    torch costs 2-8 s: an incremental dedup of 1,000 new structures paid more for that import
    than for its own work. On Linux a GPU torch could use needs its kernel driver, whose device
    nodes are then present; elsewhere, or where they are, torch decides as before.
    """
    if device == "cpu":
        return True
    if device == "auto" and sys.platform.startswith("linux") and not any(Path(node).exists() for node in GPU_DRIVER_NODES):
        return True
    return resolve_device(device).type == "cpu"
