"""Small real samples of each source, shipped so ``atlas2d demo`` and the tests need no download.

Each folder holds one source's files and a PROVENANCE.md with where they come from and their
licence. Every database record is real; the tight-binding one is a spec of generated models
(see its PROVENANCE.md).
"""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).parent

BUNDLED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("c2db", ("c2db/*.structure.json", "c2db/*.csv")),
    ("mc2d", ("mc2d/*.json",)),
    ("2dmatpedia", ("2dmatpedia/*.jsonl",)),
    ("experimental", ("experimental/*.csv",)),
    ("tight-binding-generated", ("tight-binding-generated/*.json",)),
)
"""(adapter name, file patterns) in ingest order: computed sources before the measured values
that link to their materials."""


BANDS_INDEX = SAMPLES / "bands-gpaw" / "index.csv"
"""Real band structures of bundled MC2D entries, attached by ``atlas2d ingest bands`` after the MC2D ingest."""


def bundled() -> list[tuple[str, list[Path]]]:
    """The bundled sample files as (adapter name, sorted paths), in ingest order."""
    return [(source, [path for pattern in patterns for path in sorted(SAMPLES.glob(pattern))]) for source, patterns in BUNDLED]
