"""VASP band runs: ``vasprun.xml``, or ``EIGENVAL`` with the ``KPOINTS`` (line mode) and ``POSCAR`` beside it.

Both go through pymatgen's readers and its ``BandStructureSymmLine``, whose branches are the
k-path segments; energies stay absolute (eV) with the run's Fermi level. A spin-polarised
run keeps both channels. Spin-orbit runs (``LSORBIT``) are reported as ``PBE+SOC``-type
spin treatment in the provenance; the method comes from the index.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from atlas2d.ingest.band_records import BandDataError, Segment, validate_segments
from atlas2d.ingest.bandfiles.segments import label

FORMAT_VASPRUN = "VASP vasprun.xml"
FORMAT_EIGENVAL = "VASP EIGENVAL + KPOINTS"


def looks_like_vasprun(head: str) -> bool:
    """Whether a file's first characters are a vasprun.xml."""
    return "<modeling>" in head


def looks_like_eigenval(path: Path) -> bool:
    """An ``EIGENVAL`` file (recognised by name: its header is bare numbers)."""
    return path.name.upper().startswith("EIGENVAL")


def read_vasprun(path: Path) -> tuple[float | None, list[Segment], dict[str, object]]:
    """(Fermi level eV, segments, run facts) of a line-mode ``vasprun.xml``."""
    from pymatgen.io.vasp import Vasprun

    kpoints = path.with_name("KPOINTS")
    try:
        run = Vasprun(str(path), parse_potcar_file=False, parse_dos=False)
        efermi = run.efermi if run.efermi is not None else occupied_maximum(run.eigenvalues)
        structure = run.get_band_structure(kpoints_filename=str(kpoints) if kpoints.exists() else None, line_mode=True, efermi=efermi)
    except Exception as exc:  # noqa: BLE001 - a damaged file becomes a quarantine reason
        raise BandDataError(f"unreadable vasprun.xml: {type(exc).__name__}: {exc}") from exc
    facts = {"spin_orbit": bool(run.parameters.get("LSORBIT")), "ispin": int(run.parameters.get("ISPIN", 1)), "code": "VASP"}
    facts.update(method_facts(run.parameters))
    return structure.efermi, _segments(structure), facts


def read_eigenval(path: Path) -> tuple[float | None, list[Segment], dict[str, object]]:
    """(Fermi level eV or ``None``, segments, facts) of an ``EIGENVAL`` with ``KPOINTS`` and ``POSCAR`` beside it."""
    from pymatgen.electronic_structure.bandstructure import BandStructureSymmLine
    from pymatgen.io.vasp import Kpoints, Poscar
    from pymatgen.io.vasp.outputs import Eigenval

    kpoints_file, poscar = path.with_name("KPOINTS"), path.with_name("POSCAR")
    for needed in (kpoints_file, poscar):
        if not needed.exists():
            raise BandDataError(f"EIGENVAL needs {needed.name} beside it")
    try:
        eigenval = Eigenval(str(path))
        kpoints = Kpoints.from_file(str(kpoints_file))
        lattice = Poscar.from_file(str(poscar)).structure.lattice
    except Exception as exc:  # noqa: BLE001 - a damaged file becomes a quarantine reason
        raise BandDataError(f"unreadable EIGENVAL/KPOINTS/POSCAR: {type(exc).__name__}: {exc}") from exc
    if kpoints.style.name != "Line_mode":
        raise BandDataError("KPOINTS is not in line mode: no k-path")
    labels = {label(name): k for name, k in zip(kpoints.labels, kpoints.kpts, strict=True) if name}
    energies = {spin: values[:, :, 0].T for spin, values in eigenval.eigenvalues.items()}
    efermi = occupied_maximum(eigenval.eigenvalues)
    structure = BandStructureSymmLine(eigenval.kpoints, energies, lattice.reciprocal_lattice, efermi or 0.0, labels)
    facts: dict[str, object] = {"ispin": eigenval.ispin, "fermi_level": "highest occupied level from EIGENVAL occupations", "code": "VASP"}
    incar = path.with_name("INCAR")
    if incar.exists():
        from pymatgen.io.vasp import Incar

        parameters = Incar.from_file(str(incar))
        facts["spin_orbit"] = bool(parameters.get("LSORBIT"))
        facts.update(method_facts(parameters))
    return efermi, _segments(structure), facts


def method_facts(parameters: Mapping[str, Any]) -> dict[str, object]:
    """The atlas2d method of a run's INCAR parameters, and how it was told, when atlas2d can tell it.

    ``GGA`` unset (``--`` in vasprun.xml) means the POTCARs' functional, PBE for the standard
    PAW sets; ``LHFCALC`` with ``HFSCREEN`` 0.2 is HSE06; ``LSORBIT`` adds spin-orbit.
    """
    gga = str(parameters.get("GGA", "--")).strip().upper()
    soc = bool(parameters.get("LSORBIT"))
    if parameters.get("LHFCALC"):
        if abs(float(parameters.get("HFSCREEN", 0.0)) - 0.2) < 1e-6 and not soc:
            return {"method": "HSE06", "method_from": "INCAR LHFCALC, HFSCREEN = 0.2"}
        return {}
    if parameters.get("LMETAGGA") or parameters.get("METAGGA") or gga not in ("--", "PE"):
        return {}
    return {"method": "PBE+SOC" if soc else "PBE", "method_from": f"INCAR GGA = {gga} (PBE POTCARs), LSORBIT = {soc}"}


def structure(path: Path) -> object:
    """The pymatgen ``Structure`` of a VASP run: the vasprun.xml's final one, else the ``POSCAR`` beside the file."""
    from pymatgen.io.vasp import Poscar, Vasprun

    try:
        if path.name.upper().startswith("EIGENVAL"):
            return Poscar.from_file(str(path.with_name("POSCAR"))).structure
        return Vasprun(str(path), parse_potcar_file=False, parse_dos=False, parse_eigen=False).final_structure
    except Exception as exc:  # noqa: BLE001 - a damaged file becomes a quarantine reason
        raise BandDataError(f"no structure in or beside {path.name}: {type(exc).__name__}: {exc}") from exc


def occupied_maximum(eigenvalues: dict[object, np.ndarray]) -> float | None:
    """The highest occupied level (eV) from VASP's [k][band][energy, occupation] arrays.

    A non-self-consistent band run (``ICHARG = 11``) often writes no Fermi level; the top of
    the occupied states stands in for it (the valence band maximum of an insulator).
    """
    occupied = np.concatenate([values[:, :, 0][values[:, :, 1] > 0.5] for values in eigenvalues.values()])
    return float(occupied.max()) if occupied.size else None


def _segments(structure: object) -> list[Segment]:
    from pymatgen.electronic_structure.core import Spin

    bands = structure.bands  # type: ignore[attr-defined]
    spins = [Spin.up] + ([Spin.down] if Spin.down in bands else [])
    energies = np.stack([np.asarray(bands[s], dtype=float) for s in spins])
    distances = np.asarray(structure.distance, dtype=float)  # type: ignore[attr-defined]
    segments = []
    for branch in structure.branches:  # type: ignore[attr-defined]
        i, j = branch["start_index"], branch["end_index"]
        start, end = branch["name"].split("-", 1)
        if j > i and distances[j] > distances[i]:
            segments.append(Segment(label(start), label(end), distances[i : j + 1] - distances[i], energies[:, :, i : j + 1]))
    if not segments:
        raise BandDataError("no k-path branch of non-zero length")
    validate_segments(segments)
    return segments
