"""Helpers of the OPTIMADE tests: a seeded store and real server processes.

The store holds real poscar2d monolayers with made-up but known property values (band gaps
by method, formation energies) so that every filter's expected answer can be computed here,
in Python, from the structures themselves and not from what the store says.
"""

from __future__ import annotations

import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import reduce
from math import gcd
from pathlib import Path

import httpx
from pymatgen.core import Structure
from sqlalchemy.orm import Session

from atlas2d.ingest.records import SourceInfo, Value
from atlas2d.schema.database import clone_database, make_engine
from atlas2d.testdata.poscar import (
    POSCAR_SOURCE,
    poscar_structures,
    seed_store,
    structure_record,
)
from atlas2d.testdata.servers import running
from tests.conftest import TEMPLATE

N_STRUCTURES = 40

COPY_SOURCE = SourceInfo(
    name="poscar2d-copy",
    title="A second copy of a few poscar2d structures (test fixture for multi-source queries)",
    license="CC BY 4.0 (2DMatPedia, presumed origin)",
)


@dataclass
class Expected:
    """What the tests know about one entry, computed from its pymatgen structure."""

    id: str
    source: str
    elements: list[str]
    nsites: int
    reduced: str
    anonymous: str
    descriptive: str
    values: dict[str, float] = field(default_factory=dict)

    @property
    def nelements(self) -> int:
        return len(self.elements)


def _formulas(structure: Structure) -> tuple[str, str, str]:
    counts = Counter(site.specie.symbol for site in structure)
    divisor = reduce(gcd, counts.values())
    reduced = "".join(f"{el}{'' if n // divisor == 1 else n // divisor}" for el, n in sorted(counts.items()))
    ordered = sorted((n // divisor for n in counts.values()), reverse=True)
    anonymous = "".join(f"{chr(65 + i)}{'' if n == 1 else n}" for i, n in enumerate(ordered))
    descriptive = "".join(f"{el}{'' if n == 1 else n}" for el, n in sorted(counts.items()))
    return reduced, anonymous, descriptive


def _values(index: int) -> list[Value]:
    """Known values: PBE gap on odd entries, HSE06 on every third, a measured gap on every seventh."""
    values = []
    if index % 2:
        values.append(Value("band_gap", round(0.1 * index, 3), "eV", "PBE"))
    if index % 3 == 0:
        values.append(Value("band_gap", round(0.15 * index + 0.5, 3), "eV", "HSE06"))
    if index % 7 == 0:
        values.append(Value("band_gap", round(0.12 * index + 0.2, 3), "eV", "expt:PL"))
    if index % 5 == 1:
        values.append(Value("formation_energy", round(-0.05 * index, 3), "eV/atom", "PBE"))
    return values


def seed(url: str, n: int = N_STRUCTURES, copies: int = 5) -> dict[str, Expected]:
    """Fill the store at ``url`` and return what each entry is, keyed by OPTIMADE id."""
    structures = poscar_structures(n)
    expected: dict[str, Expected] = {}
    records = []
    for index, (key, structure) in enumerate(structures):
        values = _values(index)
        records.append(structure_record(key, structure, values))
        reduced, anonymous, descriptive = _formulas(structure)
        by_method = {v.method: v.value for v in values if v.name == "band_gap"}
        known = {f"band_gap_{m.split(':')[0].lower()}": g for m, g in by_method.items()}
        for preferred in ("expt:PL", "HSE06", "PBE"):
            if preferred in by_method:
                known["band_gap"] = by_method[preferred]
                known["band_gap_method"] = preferred
                break
        known |= {v.name: v.value for v in values if v.name == "formation_energy"}
        for source in [POSCAR_SOURCE] + ([COPY_SOURCE] if index < copies else []):
            expected[f"{source.name}/{key}"] = Expected(
                id=f"{source.name}/{key}",
                source=source.name,
                elements=sorted({site.specie.symbol for site in structure}),
                nsites=len(structure),
                reduced=reduced,
                anonymous=anonymous,
                descriptive=descriptive,
                values=dict(known),
            )
    engine = make_engine(url)
    with Session(engine) as session:
        seed_store(session, records)
        seed_store(session, records[:copies], COPY_SOURCE)
    engine.dispose()
    return expected


@contextmanager
def fresh_database(template_url: str) -> Iterator[str]:
    """A new migrated database cloned from the test template (for module-scoped stores)."""
    yield clone_database(template_url, TEMPLATE, f"o_{uuid.uuid4().hex[:12]}")


def all_ids(base: str, filter_text: str) -> set[str]:
    """Every id a server returns for ``filter_text``, following ``next`` links."""
    ids: set[str] = set()
    url: str | None = f"{base}/v1/structures"
    params: dict[str, str] | None = {"filter": filter_text, "page_limit": "100", "response_fields": "id"}
    while url:
        response = httpx.get(url, params=params, timeout=30)
        assert response.status_code == 200, (filter_text, response.status_code, response.text[:500])
        body = response.json()
        ids |= {item["id"] for item in body["data"]}
        url, params = body["links"].get("next"), None
    return ids


REFERENCE_ALIASES = {
    "structures": {
        "id": "task_id",
        "chemical_formula_descriptive": "pretty_formula",
        "chemical_formula_reduced": "pretty_formula",
        "chemical_formula_anonymous": "formula_anonymous",
    }
}
"""How the reference server's bundled test structures name their fields (as in its own config)."""


@contextmanager
def reference_server(log_dir: str) -> Iterator[str]:
    """The ``optimade`` reference server with its own test data in its in-memory (mongomock) backend."""
    import json

    with running(
        [sys.executable, "-m", "uvicorn", "optimade.server.main:app", "--host", "127.0.0.1", "--port", "{port}"],
        "/v1/info",
        env={
            "OPTIMADE_CONFIG_FILE": str(Path(log_dir) / "no-config.json"),
            "OPTIMADE_DATABASE_BACKEND": "mongomock",
            "OPTIMADE_INSERT_TEST_DATA": "true",
            "OPTIMADE_ALIASES": json.dumps(REFERENCE_ALIASES),
            "OPTIMADE_LOG_DIR": log_dir,
        },
    ) as base:
        yield base
