"""The band structures inside a C2DB per-material download (``results-asr.bandstructure.json``).

``kwargs.data.bs_nosoc``: ``energies`` [spins][k][bands] (eV, absolute), ``efermi``,
``path`` (an ASE bandpath); ``bs_soc``: ``energies`` [bands][k] with spin-orbit (one channel,
its bands twice as many) and the spin expectation ``sz_mk``. Each becomes its own band
structure of the download's entry: method ``PBE`` without and ``PBE+SOC`` with spin-orbit,
as C2DB names its gaps. Computed with GPAW (the ASR metadata names the versions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from atlas2d.ingest.band_records import BandDataError, Segment
from atlas2d.ingest.bandfiles.ase_json import segments_of

FORMAT = "C2DB per-material download band structures (ASR JSON)"

RESULT = "results-asr.bandstructure.json"

PARTS = (("bs_nosoc", "PBE", False), ("bs_soc", "PBE+SOC", True))
"""Key in the result's data -> (method, spin-orbit)."""


@dataclass(frozen=True)
class DownloadBands:
    """One band structure of a download, with its method and what the download says about it."""

    method: str
    fermi_level: float
    segments: list[Segment]
    facts: dict[str, object]


def band_structures(document: dict[str, Any]) -> list[DownloadBands]:
    """The band structures (without and with spin-orbit) of a parsed download; none when it has no band-structure result.

    A result that is there but cannot be read raises ``BandDataError``.
    """
    from ase.io.jsonio import decode

    result = document.get(RESULT)
    if result is None:
        return []
    try:
        kwargs = decode(json.dumps(result["kwargs"]))
        data, metadata = kwargs["data"], kwargs.get("metadata") or {}
    except (KeyError, TypeError, ValueError) as exc:
        raise BandDataError(f"{RESULT} is not an ASR result: {exc}") from exc
    versions = metadata.get("code_versions") or {}
    found = []
    for key, method, spin_orbit in PARTS:
        part = data.get(key)
        if part is None:
            continue
        try:
            energies = np.asarray(part["energies"], dtype=float)
            if spin_orbit and energies.ndim == 2:
                energies = energies.T[None, :, :]
            segments = segments_of(part["path"], energies)
            fermi = float(part["efermi"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BandDataError(f"{RESULT}:{key}: {type(exc).__name__}: {exc}") from exc
        facts: dict[str, object] = {
            "file_part": f"{RESULT}:{key}",
            "code": "GPAW",
            "code_versions": {name: str(v).split("-")[0] for name, v in versions.items()},
            "spin_orbit": spin_orbit,
            "path": part["path"].path,
        }
        found.append(DownloadBands(method, fermi, segments, facts))
    return found
