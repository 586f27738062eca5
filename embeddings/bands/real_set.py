"""The labelled set of real band structures the fingerprint is trained and judged on.

Real PBE band structures of MC2D monolayers (``bands-gpaw``: an index CSV naming ASE
band-structure JSON files, one per MC2D structure label) become pictures with what is known
about each material: band gap (from the bands, as in the index), metal or not, reduced
formula and MC2D prototype (from the bundled MC2D v4 sample, where the label is in it).

A compact copy of the pictures and labels (``weights/bands_gpaw_pictures.npz``, pictures as
8-bit) ships with atlas2d, so training and the benchmark reproduce without the band files;
``from_index`` rebuilds the same set from the files themselves.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atlas2d.embeddings.bands.picture import GAP_THRESHOLD, rasterise
from atlas2d.ingest.bandfiles.index import reader_for
from atlas2d.ingest.formulas import parse_formula
from atlas2d.ingest.samples import SAMPLES

BUNDLED = Path(__file__).resolve().parent / "weights" / "bands_gpaw_pictures.npz"
"""The shipped copy of the 132 real band structures' pictures and labels."""

MC2D_V4 = SAMPLES / "mc2d" / "mc2d_v4_structures_sample.json"
"""Where prototypes come from: the MC2D v4 records of the same structure labels."""


@dataclass
class RealSet:
    """Pictures of real band structures, one per material, with their labels (same order)."""

    labels: list[str]
    formulas: list[str]
    prototypes: list[str]
    gaps: np.ndarray
    pictures: list[np.ndarray]

    @property
    def metals(self) -> np.ndarray:
        """True where the gap is below ``GAP_THRESHOLD`` (what atlas2d calls a metal)."""
        return self.gaps < GAP_THRESHOLD

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray | list[int]) -> RealSet:
        """The materials at ``index``, in that order."""
        index = [int(i) for i in index]
        return RealSet(
            labels=[self.labels[i] for i in index],
            formulas=[self.formulas[i] for i in index],
            prototypes=[self.prototypes[i] for i in index],
            gaps=self.gaps[index],
            pictures=[self.pictures[i] for i in index],
        )

    def compositions(self) -> np.ndarray:
        """Element fractions (n, elements seen in the set): the composition-only peer's vectors."""
        counts = [parse_formula(f) for f in self.formulas]
        elements = sorted({e for c in counts for e in c})
        out = np.zeros((len(counts), len(elements)))
        for row, c in enumerate(counts):
            total = sum(c.values())
            for element, n in c.items():
                out[row, elements.index(element)] = n / total
        return out


def prototypes_by_label(path: Path = MC2D_V4) -> dict[str, str]:
    """MC2D structure label -> prototype name, from an MC2D v4 JSON list."""
    return {r["structure_label"]: r.get("prototype") or "" for r in json.loads(path.read_text(encoding="utf-8"))}


def from_index(index: Path, prototypes: dict[str, str] | None = None) -> RealSet:
    """Read every band file an index CSV names (``bands-gpaw/index.csv``) into a ``RealSet``.

    The gap label is the index's ``gap_eV`` (computed from the same bands); a material not
    in the MC2D sample gets the prototype ``""`` (it counts as no one's same prototype).
    """
    prototypes = prototypes_by_label() if prototypes is None else prototypes
    with index.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    pictures = []
    for row in rows:
        _, read = reader_for(index.parent / row["file"])
        fermi, segments, _ = read(index.parent / row["file"])
        pictures.append(rasterise(segments, fermi if fermi is not None else 0.0))
    return RealSet(
        labels=[r["source_id"] for r in rows],
        formulas=[r["formula"] for r in rows],
        prototypes=[prototypes.get(r["source_id"], "") for r in rows],
        gaps=np.array([float(r["gap_eV"]) for r in rows]),
        pictures=pictures,
    )


def save_compact(real: RealSet, path: Path) -> None:
    """Write the set as one compressed .npz, pictures quantised to 8 bits (what ships)."""
    stacked = np.concatenate(real.pictures)
    np.savez_compressed(
        path,
        pictures=np.round(stacked * 255).astype(np.uint8),
        segments=np.array([p.shape[0] for p in real.pictures]),
        labels=np.array(real.labels),
        formulas=np.array(real.formulas),
        prototypes=np.array(real.prototypes),
        gaps=real.gaps,
    )


def load_compact(path: Path = BUNDLED) -> RealSet:
    """The set written by ``save_compact`` (default: the copy shipped with atlas2d)."""
    with np.load(path) as data:
        pictures = np.split(data["pictures"].astype(np.float32) / 255, np.cumsum(data["segments"])[:-1])
        return RealSet(
            labels=data["labels"].tolist(),
            formulas=data["formulas"].tolist(),
            prototypes=data["prototypes"].tolist(),
            gaps=data["gaps"].astype(float),
            pictures=pictures,
        )
