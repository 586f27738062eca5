"""Band-structure fingerprints: a convolutional autoencoder over the band pictures.

The pictures (``atlas2d.embeddings.bands.picture``) already ignore energy shifts, k-point
density and path length. The model adds independence of segment order and direction: each
segment is encoded on its own, as the average of the encodings of it and its mirror image,
and the fingerprint pools the segments (mean and max), so Γ-M-K-Γ and Γ-K-M-Γ give the same
vector, whose neighbours share electronic features (flat bands, Dirac cones, gaps).

The same code runs on CPU and CUDA (``device="auto"``), in batches, with float16 autocast
on CUDA only. The encoder is three strided convolutions (no pooling layers): on a 2-core CPU
that encodes several thousand band structures a second, where v1's pooled, wider stack
managed about a hundred.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from atlas2d.embeddings.device import resolve_device

LATENT = 32
"""Length of one segment's code; the fingerprint is its mean and max over segments."""

FINGERPRINT_LENGTH = 2 * LATENT

FAMILY_CLASSES = 6
"""Lattice families of the generated training models (``atlas2d.ingest.sources.tight_binding.FAMILIES``)."""

MODEL_NAME = "bands-cae-v2"

WEIGHTS = Path(__file__).resolve().parent / "weights" / "bands_cae.pt"
"""The shipped trained weights (how they were made: ``weights/bands_cae.json``)."""


class SegmentEncoder(nn.Module):
    """(1, 64, 32) picture of one segment -> ``LATENT`` numbers."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(32 * 8 * 4, LATENT),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SegmentDecoder(nn.Module):
    """``LATENT`` numbers -> (1, 64, 32) picture, the mirror of the encoder."""

    def __init__(self) -> None:
        super().__init__()
        self.expand = nn.Linear(LATENT, 32 * 8 * 4)
        self.net = nn.Sequential(
            nn.ConvTranspose2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1),
        )  # fmt: skip

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.expand(z).view(-1, 32, 8, 4))


class BandAutoencoder(nn.Module):
    """Segment autoencoder with a direction-symmetric code, and small heads on fingerprints.

    The heads are trained together with the autoencoder and pull fingerprints of the same
    electronic kind together, which pure reconstruction does only weakly: band gap (eV)
    and metal or not, on every band structure (both follow from its own bands); flat band
    and lattice family on the generated models, whose labels are known.
    """

    def __init__(self, families: int = FAMILY_CLASSES) -> None:
        super().__init__()
        self.encoder = SegmentEncoder()
        self.decoder = SegmentDecoder()
        self.flat_head = nn.Linear(FINGERPRINT_LENGTH, 1)
        self.family_head = nn.Linear(FINGERPRINT_LENGTH, families)
        self.gap_head = nn.Linear(FINGERPRINT_LENGTH, 1)
        self.metal_head = nn.Linear(FINGERPRINT_LENGTH, 1)

    def encode_segments(self, x: torch.Tensor) -> torch.Tensor:
        """Codes of segment pictures (N, 1, H, W), equal for a segment and its reverse (one pass over both)."""
        both = self.encoder(torch.cat([x, torch.flip(x, dims=[3])]))
        return (both[: x.shape[0]] + both[x.shape[0] :]) / 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction logits of the direction-symmetrised pictures."""
        return self.decoder(self.encode_segments(x))


def pool(codes: torch.Tensor, owner: torch.Tensor, count: int) -> torch.Tensor:
    """Fingerprints (count, 2·LATENT): mean and max of each band structure's segment codes."""
    index = owner[:, None].expand(-1, codes.shape[1])
    total = torch.zeros(count, codes.shape[1], dtype=codes.dtype, device=codes.device).scatter_add_(0, index, codes)
    n = torch.bincount(owner, minlength=count).clamp(min=1).to(codes.dtype)[:, None]
    peak = torch.full((count, codes.shape[1]), -torch.inf, dtype=codes.dtype, device=codes.device)
    peak = peak.scatter_reduce(0, index, codes, reduce="amax")
    return torch.cat([total / n, peak], dim=1)


CPU_CHUNK = 256
"""Segment pictures per call of the frozen CPU encoder: with their mirror images, their activations stay in cache."""


def frozen_cpu_encoder(encoder: SegmentEncoder) -> Callable[[torch.Tensor], torch.Tensor]:
    """The encoder traced, frozen and rewritten for oneDNN (convolution and ReLU fused, weights pre-packed).

    On the 2-core CPU this runs the same float32 arithmetic about twice as fast as the eager
    module: eager PyTorch converts every activation between its own layout and oneDNN's at
    each layer, the frozen graph keeps them in oneDNN's layout from the first convolution to
    the last. ``torch.jit.trace`` is deprecated in favour of ``torch.compile``, which would
    need a C compiler and tens of seconds of compiling on this machine; the trace takes
    milliseconds, so its deprecation warning is silenced here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace(encoder.eval(), torch.zeros(2, 1, 64, 32))
        return torch.jit.optimize_for_inference(traced)


@dataclass
class FingerprintModel:
    """A trained autoencoder on a device, with the identifier stored beside its fingerprints."""

    net: BandAutoencoder
    device: torch.device
    identifier: str
    _cpu_encoder: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, init=False, repr=False)

    @torch.inference_mode()
    def encode(self, pictures: Sequence[np.ndarray], batch_size: int = 256) -> np.ndarray:
        """Fingerprints (n, ``FINGERPRINT_LENGTH``) of rasterised band structures (``batch_size`` of them at a time on CUDA)."""
        if self.device.type == "cpu":
            return self._encode_cpu(pictures)
        out = np.empty((len(pictures), FINGERPRINT_LENGTH), dtype=np.float32)
        for lo in range(0, len(pictures), batch_size):
            batch = pictures[lo : lo + batch_size]
            x = torch.from_numpy(np.concatenate(batch)).unsqueeze(1).to(self.device)
            owner = torch.repeat_interleave(torch.arange(len(batch)), torch.tensor([p.shape[0] for p in batch]))
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.device.type == "cuda"):
                codes = self.net.encode_segments(x)
            out[lo : lo + len(batch)] = pool(codes.float(), owner.to(self.device), len(batch)).cpu().numpy()
        return out

    def _encode_cpu(self, pictures: Sequence[np.ndarray]) -> np.ndarray:
        """``encode`` on CPU: the same numbers, through the frozen oneDNN encoder (built on first use).

        Three things make it several times faster than the CUDA path run on a CPU: the
        encoder is frozen for oneDNN (``frozen_cpu_encoder``); it runs over ``CPU_CHUNK``
        segment pictures at a time on one thread (measured on the shared 2-core machine:
        1.7× less CPU time than two threads on bigger chunks, which spend it waiting on each
        other, and no slower by the clock); and the mirror images and the pooling are made
        in numpy (a reversed view copied once, ``reduceat`` over each band structure's
        consecutive segments) instead of ``torch.flip`` and ``scatter_reduce``, which cost a
        quarter of the time.
        """
        if self._cpu_encoder is None:
            self._cpu_encoder = frozen_cpu_encoder(self.net.encoder)
        counts = np.array([p.shape[0] for p in pictures])
        if not len(pictures):
            return np.empty((0, FINGERPRINT_LENGTH), dtype=np.float32)
        x = np.concatenate(pictures)[:, None]
        codes = np.empty((x.shape[0], LATENT), dtype=np.float32)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for lo in range(0, x.shape[0], CPU_CHUNK):
                part = x[lo : lo + CPU_CHUNK]
                both = self._cpu_encoder(torch.from_numpy(np.concatenate([part, part[..., ::-1]]))).numpy()
                codes[lo : lo + part.shape[0]] = (both[: part.shape[0]] + both[part.shape[0] :]) / 2
        finally:
            torch.set_num_threads(threads)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        mean = np.add.reduceat(codes, starts, axis=0) / np.maximum(counts, 1)[:, None].astype(np.float32)
        return np.concatenate([mean, np.maximum.reduceat(codes, starts, axis=0)], axis=1)

    @torch.inference_mode()
    def flat_band_probability(self, fingerprints: np.ndarray) -> np.ndarray:
        """Probability of a flat band near the reference energy, from the fingerprint alone."""
        logits = self.net.flat_head(torch.from_numpy(fingerprints).to(self.device))
        return torch.sigmoid(logits).squeeze(1).cpu().numpy()


def load_model(path: Path = WEIGHTS, device: str = "auto") -> FingerprintModel:
    """Load trained weights; the identifier names the model and the weights' SHA-256."""
    data = path.read_bytes()
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = BandAutoencoder()
    net.load_state_dict(state["model"])
    target = resolve_device(device)
    net.to(target).eval()
    return FingerprintModel(net=net, device=target, identifier=f"{MODEL_NAME}:{hashlib.sha256(data).hexdigest()[:12]}")
