"""ASE band-structure JSON (``BandStructure.write``; GPAW's and ASE's own band files).

``path`` is a bandpath (cell in Å, fractional ``kpts``, special points), ``energies``
[spins][k][bands] in absolute eV and ``reference`` the Fermi level. Read with ASE's own
decoder, so every ASE version's encoding is understood.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from atlas2d.ingest.band_records import BandDataError, Segment, validate_segments
from atlas2d.ingest.bandfiles.segments import split

FORMAT = "ASE band-structure JSON"


def looks_like(head: str) -> bool:
    """Whether a file's first characters are an ASE band structure (a JSON object opening with its bandpath or energies).

    ASE writes the ``"__ase_objtype__": "bandstructure"`` tag last, after the arrays, so the
    opening keys are what can be seen in the first characters.
    """
    start = head.lstrip()[:40]
    return start.startswith("{") and ('"path": {"kpts"' in start or '"energies": {"__ndarray__"' in start or "bandstructure" in head)


def read(path: Path) -> tuple[float | None, list[Segment], dict[str, object]]:
    """(Fermi level eV, segments, what the file says about itself) of one file."""
    from ase.io.jsonio import read_json
    from ase.spectrum.band_structure import BandStructure

    try:
        bands = read_json(str(path))
    except Exception as exc:  # noqa: BLE001 - a damaged file becomes a quarantine reason
        raise BandDataError(f"not ASE JSON: {exc}") from exc
    if isinstance(bands, dict):
        bands = BandStructure(**bands)
    if not isinstance(bands, BandStructure):
        raise BandDataError(f"not an ASE band structure: {type(bands).__name__}")
    return bands.reference, segments_of(bands.path, np.asarray(bands.energies, dtype=float)), {"path": bands.path.path}


def segments_of(bandpath: object, energies_skn: np.ndarray) -> list[Segment]:
    """Segments of an ASE bandpath with energies [spins][k][bands]."""
    x, special_x, labels = bandpath.get_linear_kpoint_axis()  # type: ignore[attr-defined]
    x = np.asarray(x, dtype=float)
    marks = [(int(np.argmin(np.abs(x - position))), name) for position, name in zip(special_x, labels, strict=True)]
    energies = np.transpose(energies_skn, (0, 2, 1))
    segments = []
    for (i, start), (j, end) in zip(marks, marks[1:], strict=False):
        segments += split(x, energies, [(i, start.split(",")[-1]), (j, end.split(",")[0])]) if x[j] > x[i] else []
    validate_segments(segments)
    return segments
