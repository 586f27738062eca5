"""Quantum ESPRESSO band runs: the ``filband`` file of ``bands.x``, with the pw.x files beside it.

``filband`` (e.g. ``NbS2.bands``) opens with ``&plot nbnd=.., nks=.. /``; then per k-point a
line of its Cartesian coordinates (units 2π/alat) and ``nbnd`` energies (eV, absolute, ten
to a line, fixed width so large negative values may touch). It holds no Fermi level, no cell
and no labels, so those come from the pw.x files in the same folder when they are there:

- the output of the self-consistent run (``*.out`` with "Program PWSCF"): "the Fermi energy
  is" (or "highest occupied level"), the lattice parameter, the crystal axes, the atomic
  positions (alat units), the exchange-correlation functional and spin-orbit;
- the input of the ``calculation = 'bands'`` run: ``K_POINTS *_b`` with the points per
  segment and the labels written as ``!G`` comments.

Without a pw.x output the k-distances cannot be put in 1/Å and the file is refused; without
the bands input the path is split where its direction turns and the points are labelled by
their coordinates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atlas2d.ingest.band_records import BandDataError, Segment, validate_segments
from atlas2d.ingest.bandfiles.segments import cumulative, label, split

FORMAT = "Quantum ESPRESSO bands.x filband"

BOHR = 0.529177210903
"""Å per bohr (CODATA 2018), the unit of QE's ``alat``."""

HEADER = re.compile(r"&plot\s+nbnd\s*=\s*(\d+)\s*,\s*nks\s*=\s*(\d+)\s*/", re.IGNORECASE)
NUMBER = re.compile(r"-?\d+\.\d*(?:[eEdD][-+]?\d+)?")
FERMI = re.compile(r"the Fermi energy is\s+(-?\d+\.\d+)\s*ev", re.IGNORECASE)
HIGHEST = re.compile(r"highest occupied(?:, lowest unoccupied)? level \(ev\):\s+(-?\d+\.\d+)", re.IGNORECASE)
ALAT = re.compile(r"lattice parameter \(alat\)\s*=\s*(\d+\.\d+)\s*a\.u\.")
AXIS = re.compile(r"a\((\d)\) = \(\s*(-?\d+\.\d+)\s+(-?\d+\.\d+)\s+(-?\d+\.\d+)\s*\)")
SITE = re.compile(r"^\s*\d+\s+([A-Za-z]+)\d*\s+tau\(\s*\d+\)\s*=\s*\(\s*(-?\d+\.\d+)\s+(-?\d+\.\d+)\s+(-?\d+\.\d+)\s*\)")
XC = re.compile(r"Exchange-correlation\s*=\s*(.+?)\s*$", re.MULTILINE)
KPOINTS_B = re.compile(r"K_POINTS\s*[({]?\s*(crystal_b|tpiba_b)\s*[)}]?\s*\n\s*(\d+)\s*\n", re.IGNORECASE)

FUNCTIONALS = (("HSE", "HSE06"), ("PBE", "PBE"), ("SLA PW PBX PBC", "PBE"), ("SLA PZ NOGX NOGC", "LDA"), ("PZ", "LDA"))
"""pw.x's spelling of the functional (first match wins) -> the atlas2d method."""


@dataclass(frozen=True)
class PwOutput:
    """What a pw.x output beside the band file says about the run."""

    path: Path
    alat: float
    """Å."""
    axes: np.ndarray
    """Crystal axes as rows, Å."""
    species: tuple[str, ...]
    positions: np.ndarray
    """Cartesian Å."""
    fermi_level: float | None
    functional: str
    spin_orbit: bool
    spin_polarised: bool

    @property
    def method(self) -> str | None:
        """The atlas2d method of the functional (``None`` when atlas2d has no name for it), spin-orbit marked as ``+SOC`` for PBE."""
        for spelling, method in FUNCTIONALS:
            if spelling in self.functional.upper():
                return "PBE+SOC" if method == "PBE" and self.spin_orbit else method
        return None


def looks_like(head: str) -> bool:
    """Whether a file's first characters are a bands.x ``filband`` file."""
    return HEADER.match(head.lstrip()) is not None


def read(path: Path) -> tuple[float | None, list[Segment], dict[str, object]]:
    """(Fermi level eV or ``None``, segments, run facts) of one ``filband`` file."""
    text = path.read_text(encoding="utf-8", errors="replace").lstrip()
    header = HEADER.match(text)
    if header is None:
        raise BandDataError("not a bands.x filband file (no '&plot nbnd=.., nks=.. /' header)")
    nbnd, nks = int(header[1]), int(header[2])
    numbers = np.array([float(n.replace("d", "e").replace("D", "e")) for n in NUMBER.findall(text[header.end() :])])
    if numbers.size != nks * (3 + nbnd):
        raise BandDataError(f"filband holds {numbers.size} numbers, nks={nks} k-points with nbnd={nbnd} bands need {nks * (3 + nbnd)}")
    table = numbers.reshape(nks, 3 + nbnd)
    pw = pw_output(path.parent)
    if pw is None:
        raise BandDataError("bands.x filband needs the pw.x output beside it (its alat puts the k-points in 1/Å)")
    kpoints = table[:, :3] * (2 * np.pi / pw.alat)
    energies = table[:, 3:].T[None, :, :]
    marks = _marks_from_input(path.parent, nks) or _marks_from_turns(kpoints, pw)
    breaks = {i for (i, _), (j, _) in zip(marks, marks[1:], strict=False) if j == i + 1}
    segments = split(cumulative(kpoints, breaks), energies, marks)
    validate_segments(segments)
    facts: dict[str, object] = {
        "code": "Quantum ESPRESSO",
        "pw_output": pw.path.name,
        "functional": pw.functional,
        "spin_orbit": pw.spin_orbit,
        "spin_polarised": pw.spin_polarised,
    }
    if pw.method is not None:
        facts["method"] = pw.method
    return pw.fermi_level, segments, facts


def pw_output(folder: Path) -> PwOutput | None:
    """The pw.x output in ``folder`` with a Fermi level (a self-consistent run first), else any pw.x output."""
    found = []
    for candidate in sorted(folder.glob("*.out")):
        with candidate.open(encoding="utf-8", errors="replace") as handle:
            if "Program PWSCF" not in handle.read(4096):
                continue
        parsed = _parse_pw(candidate)
        if parsed is not None:
            found.append(parsed)
    found.sort(key=lambda p: (p.fermi_level is None, ".scf." not in p.path.name))
    return found[0] if found else None


def _parse_pw(path: Path) -> PwOutput | None:
    text = path.read_text(encoding="utf-8", errors="replace")
    alat = ALAT.search(text)
    axes = {int(m[1]): [float(m[2]), float(m[3]), float(m[4])] for m in AXIS.finditer(text)}
    start = text.find("positions (alat units)")
    if alat is None or sorted(axes) != [1, 2, 3] or start < 0:
        return None
    scale = float(alat[1]) * BOHR
    species, positions = [], []
    for line in text[start:].splitlines()[1:]:
        site = SITE.match(line)
        if site is None:
            break
        species.append(site[1])
        positions.append([float(site[2]), float(site[3]), float(site[4])])
    if not species:
        return None
    fermi = FERMI.findall(text) or HIGHEST.findall(text)
    xc = XC.search(text)
    return PwOutput(
        path=path,
        alat=scale,
        axes=np.array([axes[i] for i in (1, 2, 3)]) * scale,
        species=tuple(species),
        positions=np.array(positions) * scale,
        fermi_level=float(fermi[-1]) if fermi else None,
        functional=xc[1].strip() if xc else "",
        spin_orbit="spin-orbit" in text.lower() and "without spin-orbit" not in text.lower(),
        spin_polarised="LSDA" in text or "spin-polarized" in text.lower(),
    )


def structure(path: Path) -> object:
    """The pymatgen ``Structure`` of the pw.x run beside a ``filband`` file."""
    from pymatgen.core import Lattice, Structure

    pw = pw_output(path.parent)
    if pw is None:
        raise BandDataError("no pw.x output beside the filband file: no structure")
    return Structure(Lattice(pw.axes), list(pw.species), pw.positions, coords_are_cartesian=True)


def _marks_from_input(folder: Path, nks: int) -> list[tuple[int, str]] | None:
    """(k index, label) of the special points from the ``calculation = 'bands'`` input beside the file, if one matches ``nks``."""
    for candidate in sorted(folder.glob("*.in")):
        text = candidate.read_text(encoding="utf-8", errors="replace")
        if not re.search(r"calculation\s*=\s*['\"]bands['\"]", text):
            continue
        block = KPOINTS_B.search(text)
        if block is None:
            continue
        lines = text[block.end() :].splitlines()[: int(block[2])]
        index, marks = 0, []
        for line in lines:
            fields, _, comment = line.partition("!")
            parts = fields.split()
            if len(parts) < 4:
                return None
            marks.append((index, label(comment.strip()) or f"k{len(marks)}"))
            index += int(float(parts[3]))
        if marks and marks[-1][0] == nks - 1:
            return marks
    return None


def _marks_from_turns(kpoints: np.ndarray, pw: PwOutput) -> list[tuple[int, str]]:
    """Special points where the path turns or jumps, named Γ at the zone centre and by fractional coordinates elsewhere."""
    steps = np.diff(kpoints, axis=0)
    lengths = np.linalg.norm(steps, axis=1)
    typical = np.median(lengths[lengths > 0]) if np.any(lengths > 0) else 0.0
    directions = steps / np.where(lengths > 0, lengths, 1.0)[:, None]
    indices = [0]
    for i in range(1, len(steps)):
        if lengths[i] > 3 * typical or np.dot(directions[i], directions[i - 1]) < 0.999:
            indices.append(i)
    indices.append(len(kpoints) - 1)
    fractional = kpoints @ pw.axes.T / (2 * np.pi)
    names = []
    for i in dict.fromkeys(indices):
        f = fractional[i]
        names.append((i, "Γ" if np.allclose(f[:2], 0, atol=1e-4) else f"({f[0]:.3f},{f[1]:.3f})"))
    return names
