"""Questaal band files (``bnds.<ext>``), with the ``site`` file beside them for the cell.

Line 1: number of bands, Fermi level (Ry), number of colour weights and ``lbl=GMKG`` (the
labels of the symmetry lines' ends). Then per symmetry line the number of k-points and, per
k-point, its coordinates (units 2π/alat) and the energies (Ry, absolute, ten to a line); a
line holding ``0`` ends the file. The file does not say which level of theory it holds
(LDA, QSGW, ...), so the method comes from an index CSV. ``alat`` (bohr) and the cell come
from the ``site`` file (``% site-data ... alat= plat=``, then one site per line).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from atlas2d.ingest.band_records import BandDataError, Segment, validate_segments
from atlas2d.ingest.bandfiles.segments import label
from atlas2d.ingest.vocabulary import UNIT_SPELLINGS

FORMAT = "Questaal bnds"

BOHR = 0.529177210903
"""Å per bohr: Questaal's ``alat`` unit."""

RYDBERG = UNIT_SPELLINGS["Ry"][1]
"""eV per Rydberg: Questaal's energy unit."""

FIRST_LINE = re.compile(r"^\s*(\d+)\s+(-?\d+\.\d+)\s+(\d+)\s+lbl=(\S+)\s*$")
SITE_HEADER = re.compile(r"%\s*site-data.*?\balat=\s*(\S+).*?\bplat=\s*((?:\s*-?\d+\.?\d*){9})")


def looks_like(head: str) -> bool:
    """Whether a file's first characters are a Questaal ``bnds`` file."""
    return FIRST_LINE.match(head.split("\n", 1)[0]) is not None


def read(path: Path) -> tuple[float | None, list[Segment], dict[str, object]]:
    """(Fermi level eV, segments, facts) of one ``bnds`` file with its ``site`` file."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    first = FIRST_LINE.match(lines[0]) if lines else None
    if first is None:
        raise BandDataError("not a Questaal bnds file (first line: nbands efermi ncol lbl=...)")
    nbands, fermi, colours, names = int(first[1]), float(first[2]), int(first[3]), first[4]
    if colours:
        raise BandDataError(f"Questaal bnds with {colours} colour weights per band: not read")
    alat, _, _, _ = _site(path)
    numbers = iter(float(x) for line in lines[1:] for x in line.split())
    blocks = []
    try:
        while (count := int(next(numbers))) > 0:
            block = np.array([[next(numbers) for _ in range(3 + nbands)] for _ in range(count)])
            blocks.append(block)
    except StopIteration as exc:
        raise BandDataError(f"Questaal bnds ends inside symmetry line {len(blocks) + 1} (truncated)") from exc
    if len(names) != len(blocks) + 1:
        raise BandDataError(f"lbl={names} names {len(names)} points, the file has {len(blocks)} symmetry lines")
    segments = []
    for n, block in enumerate(blocks):
        kpoints = block[:, :3] * (2 * np.pi / alat)
        steps = np.linalg.norm(np.diff(kpoints, axis=0), axis=1)
        distances = np.concatenate([[0.0], np.cumsum(steps)])
        segments.append(Segment(label(names[n]), label(names[n + 1]), distances, block[:, 3:].T[None, :, :] * RYDBERG))
    validate_segments(segments)
    return fermi * RYDBERG, segments, {"code": "Questaal", "energy_unit_read": "Ry", "labels": names}


def structure(path: Path) -> object:
    """The pymatgen ``Structure`` of the ``site`` file beside a ``bnds`` file."""
    from pymatgen.core import Lattice, Structure

    alat, plat, species, positions = _site(path)
    return Structure(Lattice(plat * alat), species, positions * alat, coords_are_cartesian=True)


def _site(path: Path) -> tuple[float, np.ndarray, list[str], np.ndarray]:
    """(alat Å, plat in alat units, species, Cartesian positions in alat units) of the one ``site.*`` file beside ``path``."""
    sites = sorted(path.parent.glob("site.*"))
    if len(sites) != 1:
        raise BandDataError(f"a Questaal bnds file needs one site.* file beside it (found {len(sites)}): alat and the cell are there")
    lines = sites[0].read_text(encoding="utf-8", errors="replace").splitlines()
    header = SITE_HEADER.search(lines[0]) if lines else None
    if header is None:
        raise BandDataError(f"{sites[0].name}: no '% site-data ... alat= plat=' header")
    if len(lines) > 1 and "xpos" in lines[1]:
        raise BandDataError(f"{sites[0].name}: fractional positions (xpos) are not read")
    alat = float(header[1]) * BOHR
    plat = np.array([float(x) for x in header[2].split()]).reshape(3, 3)
    species, positions = [], []
    for line in lines[1:]:
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        species.append(re.sub(r"\d+$", "", parts[0]))
        positions.append([float(x) for x in parts[1:4]])
    return alat, plat, species, np.array(positions)
