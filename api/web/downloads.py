"""A material's files: its structure as CIF or POSCAR (pymatgen) and its JSON-LD document.

The JSON-LD is the document ``atlas2d export`` writes for the material (``api.exports.jsonld``),
so a download and a training set describe a material with the same IRIs and context.
"""

from __future__ import annotations

import re
from typing import Any

from atlas2d.api.web.queries import StructureInfo

FORMATS = {"cif": "chemical/x-cif", "poscar": "text/plain"}
"""Structure download format -> media type."""


def pymatgen_structure(structure: StructureInfo) -> Any:  # noqa: ANN401 - pymatgen Structure, imported lazily
    """The stored 2D structure (Cartesian positions, Å) as a pymatgen ``Structure``."""
    from pymatgen.core import Lattice, Structure

    return Structure(Lattice(structure.lattice_vectors), structure.species, structure.positions, coords_are_cartesian=True)


def structure_file(structure: StructureInfo, fmt: str) -> str:
    """The text of ``structure`` as ``cif`` or ``poscar``."""
    crystal = pymatgen_structure(structure)
    if fmt == "cif":
        from pymatgen.io.cif import CifWriter

        return str(CifWriter(crystal))
    if fmt == "poscar":
        from pymatgen.io.vasp import Poscar

        return Poscar(crystal, comment=f"atlas2d {structure.label}").get_str()
    raise ValueError(f"unknown structure format {fmt!r}: use {', '.join(FORMATS)}")


def material_jsonld(material_id: int, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The material's JSON-LD document, without the training split (a download is in none)."""
    from atlas2d.api.exports.jsonld import material_document

    document = material_document(material_id, "", entries)
    del document["split"]
    return document


def download_name(material_id: int, formula: str, suffix: str) -> str:
    """A file name safe in any header and file system: ``atlas2d-material-12-MoS2.cif``."""
    clean = re.sub(r"[^A-Za-z0-9]+", "", formula)[:40]
    return f"atlas2d-material-{material_id}{'-' + clean if clean else ''}.{suffix}"
