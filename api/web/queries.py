"""Every SQL statement the explorer runs, and the plain data each page is rendered from.

Searches select material ids with semi-joins (``material.id IN (SELECT entry.material_id …)``),
one per criterion, so each criterion is met by some entry of the material; the page of ids
is then read whole from the store's ``materials_flat`` view and the property table. A page
of results costs four statements whatever the size of the result set: a count, a page of ids
(ordered and limited in SQL) and two for the rows' details.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Subquery,
    and_,
    column,
    func,
    literal,
    or_,
    select,
    table,
    text,
    true,
    union_all,
)

from atlas2d.api.optimade.fields import STRUCTURES
from atlas2d.api.optimade.filter import filter_clause
from atlas2d.api.web.search import RANGE_FIELDS, RANGES, RangeField, SearchQuery
from atlas2d.schema.models import (
    BandStructure,
    ClusterOverride,
    Entry,
    EntryRevision,
    Material,
    MergeEvidence,
    PropertyValue,
    Quarantine,
    Source,
    Structure,
)

MAP_LIMIT = 5_000
"""Band structures drawn on the overview's fingerprint map at most (the first by id)."""

MULTI_SOURCE_LIST = 100
"""Materials listed on the overview as spanning several sources, at most."""


# --- search -------------------------------------------------------------------------------


@dataclass
class MaterialRow:
    """One row of the results table: a material, the sources it appears in, its value ranges."""

    id: int
    formula: str
    n_entries: int
    sources: list[str]
    values: dict[str, tuple[float, float]] = field(default_factory=dict)
    magnetic_states: list[str] = field(default_factory=list)

    def ranges(self, fields: Sequence[RangeField]) -> list[tuple[float, float] | None]:
        """The (lowest, highest) value of each of ``fields``, None where the material has none."""
        return [self.values.get(f.key) for f in fields]


@dataclass
class SearchResult:
    """A page of a search: its rows and how many materials match in all."""

    total: int
    rows: list[MaterialRow]

    def last_page(self, per_page: int) -> int:
        return max(1, -(-self.total // per_page))


def _method_matches(method: str | None) -> ColumnElement[bool]:
    """``expt`` stands for every experimental technique (``expt``, ``expt:<technique>``)."""
    if method is None:
        return true()
    if method == "expt":
        return or_(PropertyValue.method == "expt", PropertyValue.method.startswith("expt:"))
    return PropertyValue.method == method


def _materials_with(*conditions: ColumnElement[bool]) -> Select:
    """Material ids of the entries (joined to their property values) that meet ``conditions``."""
    query = select(Entry.material_id).join(PropertyValue, PropertyValue.entry_id == Entry.id)
    return query.where(Entry.material_id.is_not(None), *conditions)


def criteria(query: SearchQuery) -> list[ColumnElement[bool]]:
    """The WHERE conditions on ``material`` of a search (``FilterError`` for a bad OPTIMADE filter)."""
    conditions: list[ColumnElement[bool]] = [
        Material.id.in_(select(Entry.material_id).where(Entry.material_id.is_not(None)))
    ]
    if query.formula:
        conditions.append(Material.chemical_formula_reduced == query.formula)
    if query.elements:
        # The reduced formula names every element once, each symbol a capital letter and an
        # optional small one, so "S" matches MoS2 and not Sn; experimental-only materials,
        # which have no structure, are found too.
        matches = [Material.chemical_formula_reduced.regexp_match(f"{symbol}(?![a-z])") for symbol in query.elements]
        conditions.append(and_(*matches) if query.elements_mode == "all" else or_(*matches))
    for key, bound in query.ranges.items():
        spec = RANGES[key]
        value = [PropertyValue.name == spec.property, _method_matches(spec.method), PropertyValue.value.is_not(None)]
        if bound.low is not None:
            value.append(PropertyValue.value >= bound.low)
        if bound.high is not None:
            value.append(PropertyValue.value <= bound.high)
        conditions.append(Material.id.in_(_materials_with(*value)))
    if query.magnetic_state:
        conditions.append(
            Material.id.in_(_materials_with(PropertyValue.name == "magnetic_state", PropertyValue.value_text == query.magnetic_state))
        )
    if query.source:
        conditions.append(
            Material.id.in_(select(Entry.material_id).join(Source, Source.id == Entry.source_id).where(Source.name == query.source))
        )
    if query.optimade_filter:
        matching = select(STRUCTURES.c.material_id).where(filter_clause(query.optimade_filter), STRUCTURES.c.material_id.is_not(None))
        conditions.append(Material.id.in_(matching))
    return conditions


def _sort_keys(query: SearchQuery) -> Subquery | None:
    """One sort key per material (``material_id``, ``key``), aggregated in one pass.

    A join to this grouped subquery costs one scan of the rows it aggregates; a correlated
    subquery per material would be as fast with good statistics, but quadratic when the
    planner misjudges it (as it does on a store just bulk-loaded and not yet analysed).
    Ascending sorts by a material's lowest value, descending by its highest, as shops sort
    price ranges.
    """
    key = query.sort_key
    if key in ("id", "formula"):
        return None
    if key == "entries":
        value = func.count(Entry.id)
        grouped = select(Entry.material_id, value.label("key"))
    elif key == "sources":
        value = func.count(func.distinct(Entry.source_id))
        grouped = select(Entry.material_id, value.label("key"))
    else:
        spec = RANGES[key]
        value = (func.max if query.descending else func.min)(PropertyValue.value)
        grouped = (
            select(Entry.material_id, value.label("key"))
            .join(PropertyValue, PropertyValue.entry_id == Entry.id)
            .where(PropertyValue.name == spec.property, _method_matches(spec.method))
        )
    return grouped.where(Entry.material_id.is_not(None)).group_by(Entry.material_id).subquery("sort_keys")


def search_materials(conn: Connection, query: SearchQuery) -> SearchResult:
    """The page of ``query``; rows are empty when the page lies past the last one."""
    conditions = criteria(query)
    total = conn.execute(select(func.count()).select_from(Material).where(*conditions)).scalar_one()
    if query.offset >= total:
        return SearchResult(total, [])
    keys = _sort_keys(query)
    page = select(Material.id).where(*conditions)
    if keys is None:
        column: ColumnElement[Any] = Material.chemical_formula_reduced if query.sort_key == "formula" else Material.id
    else:
        page = page.outerjoin(keys, keys.c.material_id == Material.id)
        column = keys.c.key
    order = column.desc().nulls_last() if query.descending else column.asc().nulls_last()
    ids = list(conn.execute(page.order_by(order, Material.id).limit(query.per_page).offset(query.offset)).scalars())
    return SearchResult(total, material_rows(conn, ids))


def material_rows(conn: Connection, ids: Sequence[int]) -> list[MaterialRow]:
    """Table rows of ``ids``, in that order: ``materials_flat`` for the entries and sources,
    ``property`` for the value range of each column."""
    if not ids:
        return []
    flat = text(
        "SELECT material_id, formula, n_entries, sources FROM materials_flat WHERE material_id = ANY(:ids)"
    ).bindparams(ids=list(ids))
    rows = {r.material_id: MaterialRow(r.material_id, r.formula, r.n_entries, sorted(r.sources)) for r in conn.execute(flat)}
    names = sorted({f.property for f in RANGE_FIELDS} | {"magnetic_state"})
    values = conn.execute(
        select(
            Entry.material_id,
            PropertyValue.name,
            PropertyValue.method,
            func.min(PropertyValue.value),
            func.max(PropertyValue.value),
            func.array_agg(func.distinct(PropertyValue.value_text)),
        )
        .join(Entry, Entry.id == PropertyValue.entry_id)
        .where(Entry.material_id.in_(ids), PropertyValue.name.in_(names))
        .group_by(Entry.material_id, PropertyValue.name, PropertyValue.method)
    )
    for material_id, name, method, low, high, texts in values:
        row = rows[material_id]
        if name == "magnetic_state":
            row.magnetic_states = sorted(set(row.magnetic_states) | {t for t in texts if t})
            continue
        if low is None:
            continue
        for spec in RANGE_FIELDS:
            if spec.property == name and _method_is(spec, method):
                old = row.values.get(spec.key)
                row.values[spec.key] = (low, high) if old is None else (min(old[0], low), max(old[1], high))
    return [rows[i] for i in ids if i in rows]


def _method_is(spec: RangeField, method: str) -> bool:
    if spec.method is None:
        return True
    if spec.method == "expt":
        return method == "expt" or method.startswith("expt:")
    return method == spec.method


@dataclass
class Choices:
    """What the search form offers in its drop-downs."""

    sources: list[str]
    magnetic_states: list[str]


def form_choices(conn: Connection) -> Choices:
    """Sources that have materials, and the magnetic states stored (for the form's selects), in one statement."""
    sources = select(literal("source").label("kind"), Source.name.label("choice")).where(
        Source.id.in_(select(Entry.source_id).where(Entry.material_id.is_not(None)))
    )
    states = (
        select(literal("state"), PropertyValue.value_text)
        .where(PropertyValue.name == "magnetic_state", PropertyValue.value_text.is_not(None))
        .distinct()
    )
    rows = conn.execute(union_all(sources, states).order_by("kind", "choice")).all()
    return Choices([c for kind, c in rows if kind == "source"], [c for kind, c in rows if kind == "state"])


# --- one material -------------------------------------------------------------------------


@dataclass
class EntryInfo:
    """A member entry of a material (or the entry of an entry page)."""

    id: int
    source: str
    source_key: str
    material_id: int | None
    formula: str
    revision: int
    has_structure: bool
    nsites: int | None
    thickness: float | None
    vacuum: float | None

    @property
    def optimade_id(self) -> str:
        return f"{self.source}/{self.source_key}"


@dataclass
class StructureInfo:
    """A member's structure: what the 3D viewer draws and the lattice table shows."""

    entry_id: int
    label: str
    lattice_vectors: list[list[float]]
    positions: list[list[float]]
    species: list[str]
    """Element symbol at each site (what the viewer colours and downloads write)."""
    thickness: float
    vacuum: float
    area: float
    site_names: list[str] | None = None
    """The source's species name at each site where it is not the element (OPTIMADE ``Ac1``, ``Ac2``)."""

    def viewer_json(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "label": self.label,
            "lattice": self.lattice_vectors,
            "positions": self.positions,
            "species": self.species,
        }


@dataclass
class ValueInfo:
    """One stored property value with where it came from."""

    name: str
    value: float | None
    value_text: str | None
    unit: str | None
    method: str
    entry_id: int
    source: str
    source_key: str
    source_field: str | None
    reference: str | None
    conditions: dict[str, Any] | None


@dataclass
class BandInfo:
    """A band structure, as the page's plot reads it."""

    id: int
    entry_id: int
    label: str
    method: str
    fermi_level: float | None
    kpath: dict[str, Any]
    energies: dict[str, Any]
    provenance: dict[str, Any]
    fingerprinted: bool

    def plot_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "method": self.method,
            "fermi_level": self.fermi_level,
            "labels": self.kpath.get("labels", []),
            "distances": self.kpath.get("distances", []),
            "segments": self.energies.get("segments", []),
        }


@dataclass
class EvidenceInfo:
    """Why dedup merged two member entries."""

    entry_a: EntryInfo
    entry_b: EntryInfo
    distance: float | None
    rule: str


@dataclass
class OverrideInfo:
    """A curator's join or split decision that involves a member entry."""

    action: str
    entry_a: EntryInfo
    entry_b: EntryInfo
    note: str | None


@dataclass
class MaterialDetail:
    """Everything the material page shows except the neighbours (searched separately)."""

    id: int
    formula: str
    entries: list[EntryInfo]
    structures: list[StructureInfo]
    values: list[ValueInfo]
    bands: list[BandInfo]
    evidence: list[EvidenceInfo]
    overrides: list[OverrideInfo]

    @property
    def sources(self) -> list[str]:
        return sorted({e.source for e in self.entries})


ENTRIES_FLAT = table(
    "entries_flat",
    *(column(name) for name in ("entry_id", "source", "source_key", "material_id", "formula", "revision", "nsites", "thickness", "vacuum")),
)
"""The store's ``entries_flat`` view (one row per source record), for the columns the pages show."""


def _entries(conn: Connection, where: ColumnElement[bool]) -> list[EntryInfo]:
    """Entries of ``entries_flat`` meeting ``where``, by id (an entry with ``nsites`` has a structure)."""
    v = ENTRIES_FLAT.c
    rows = conn.execute(
        select(v.entry_id, v.source, v.source_key, v.material_id, v.formula, v.revision)
        .add_columns(v.nsites.is_not(None), v.nsites, v.thickness, v.vacuum)
        .where(where)
        .order_by(v.entry_id)
    )
    return [EntryInfo(*row) for row in rows]


def material_detail(conn: Connection, material_id: int) -> MaterialDetail | None:
    """The material with its entries, structures, values, band structures and merge records."""
    formula = conn.execute(select(Material.chemical_formula_reduced).where(Material.id == material_id)).scalar_one_or_none()
    entries = _entries(conn, ENTRIES_FLAT.c.material_id == material_id) if formula is not None else []
    if not entries:
        return None
    ids = [e.id for e in entries]
    by_id = {e.id: e for e in entries}
    evidence_rows = conn.execute(
        select(MergeEvidence.entry_a_id, MergeEvidence.entry_b_id, MergeEvidence.distance, MergeEvidence.rule)
        .where(or_(MergeEvidence.entry_a_id.in_(ids), MergeEvidence.entry_b_id.in_(ids)))
        .order_by(MergeEvidence.id)
    ).all()
    override_rows = conn.execute(
        select(ClusterOverride.action, ClusterOverride.entry_a_id, ClusterOverride.entry_b_id, ClusterOverride.note)
        .where(or_(ClusterOverride.entry_a_id.in_(ids), ClusterOverride.entry_b_id.in_(ids)))
        .order_by(ClusterOverride.id)
    ).all()
    others = {r[i] for r in evidence_rows for i in (0, 1)} | {r[i] for r in override_rows for i in (1, 2)}
    others -= set(ids)
    if others:
        by_id |= {e.id: e for e in _entries(conn, ENTRIES_FLAT.c.entry_id.in_(others))}
    return MaterialDetail(
        id=material_id,
        formula=formula,
        entries=entries,
        structures=structures_of(conn, ids, by_id),
        values=values_of(conn, ids),
        bands=bands_of(conn, ids, by_id),
        evidence=[EvidenceInfo(by_id[a], by_id[b], d, rule) for a, b, d, rule in evidence_rows],
        overrides=[OverrideInfo(action, by_id[a], by_id[b], note) for action, a, b, note in override_rows],
    )


def structures_of(conn: Connection, entry_ids: Sequence[int], entries: dict[int, EntryInfo]) -> list[StructureInfo]:
    rows = conn.execute(
        select(
            Structure.entry_id,
            Structure.lattice_vectors,
            Structure.cartesian_site_positions,
            Structure.species_at_sites,
            Structure.thickness,
            Structure.vacuum,
            Structure.area,
            Structure.site_names,
        )
        .where(Structure.entry_id.in_(entry_ids))
        .order_by(Structure.entry_id)
    )
    return [StructureInfo(r[0], entries[r[0]].optimade_id, *r[1:]) for r in rows]


def values_of(conn: Connection, entry_ids: Sequence[int]) -> list[ValueInfo]:
    rows = conn.execute(
        select(
            PropertyValue.name,
            PropertyValue.value,
            PropertyValue.value_text,
            PropertyValue.unit,
            PropertyValue.method,
            Entry.id,
            Source.name,
            Entry.source_key,
            PropertyValue.source_field,
            PropertyValue.reference,
            PropertyValue.conditions,
        )
        .join(Entry, Entry.id == PropertyValue.entry_id)
        .join(Source, Source.id == Entry.source_id)
        .where(PropertyValue.entry_id.in_(entry_ids))
        .order_by(PropertyValue.name, PropertyValue.method, Source.name, Entry.id)
    )
    return [ValueInfo(*row) for row in rows]


def bands_of(conn: Connection, entry_ids: Sequence[int], entries: dict[int, EntryInfo]) -> list[BandInfo]:
    rows = conn.execute(
        select(
            BandStructure.id,
            BandStructure.entry_id,
            BandStructure.method,
            BandStructure.fermi_level,
            BandStructure.kpath,
            BandStructure.energies,
            BandStructure.provenance,
            BandStructure.fingerprint.is_not(None),
        )
        .where(BandStructure.entry_id.in_(entry_ids))
        .order_by(BandStructure.entry_id, BandStructure.id)
    )
    return [
        BandInfo(r[0], r[1], f"{entries[r[1]].optimade_id} ({r[2]})", r[2], r[3], r[4], r[5], r[6] or {}, r[7]) for r in rows
    ]


# --- one entry ----------------------------------------------------------------------------


@dataclass
class EntryDetail:
    """An entry page: the source record as stored, its values, structure and bands."""

    entry: EntryInfo
    raw: dict[str, Any]
    source_file: str | None
    ingested_at: Any
    updated_at: Any
    revisions: list[tuple[int, Any]]
    structure: StructureInfo | None
    values: list[ValueInfo]
    bands: list[BandInfo]


def entry_detail(conn: Connection, entry_id: int) -> EntryDetail | None:
    found = _entries(conn, ENTRIES_FLAT.c.entry_id == entry_id)
    if not found:
        return None
    entry = found[0]
    raw, source_file, ingested, updated = conn.execute(
        select(Entry.raw, Entry.source_file, Entry.ingested_at, Entry.updated_at).where(Entry.id == entry_id)
    ).one()
    revisions = conn.execute(
        select(EntryRevision.revision, EntryRevision.replaced_at).where(EntryRevision.entry_id == entry_id).order_by(EntryRevision.revision)
    ).all()
    structures = structures_of(conn, [entry_id], {entry_id: entry})
    return EntryDetail(
        entry=entry,
        raw=raw,
        source_file=source_file,
        ingested_at=ingested,
        updated_at=updated,
        revisions=[tuple(r) for r in revisions],
        structure=structures[0] if structures else None,
        values=values_of(conn, [entry_id]),
        bands=bands_of(conn, [entry_id], {entry_id: entry}),
    )


def raw_record(conn: Connection, entry_id: int) -> dict[str, Any] | None:
    """The entry's source record as stored, or None for an unknown entry."""
    return conn.execute(select(Entry.raw).where(Entry.id == entry_id)).scalar_one_or_none()


# --- overview -----------------------------------------------------------------------------


@dataclass
class SourceCounts:
    """One row of the overview's source table."""

    name: str
    title: str
    license: str | None
    entries: int
    materials: int
    structures: int
    values: int
    band_structures: int
    quarantined: int


@dataclass(frozen=True)
class FingerprintMap:
    """The map's points and the number of fingerprints, with the state of the table they came from."""

    signature: tuple[Any, ...]
    points: list[dict[str, Any]]
    total: int


@dataclass
class Overview:
    """The overview page's numbers and the fingerprint map's points."""

    totals: dict[str, int]
    sources: list[SourceCounts]
    by_source_count: list[tuple[int, int]]
    multi_source: list[MaterialRow]
    map_points: list[dict[str, Any]]
    map_total: int


def overview(conn: Connection, fingerprint_map: FingerprintMap) -> Overview:
    """The store's counts; the map comes from ``fingerprint_map`` (the caller caches it)."""
    per_source = conn.execute(
        text(
            """
            SELECT s.name, s.title, s.license,
                   coalesce(e.entries, 0), coalesce(e.materials, 0), coalesce(e.structures, 0),
                   coalesce(p.n, 0), coalesce(b.n, 0), coalesce(q.n, 0)
            FROM source s
            LEFT JOIN (SELECT entry.source_id, count(*) AS entries, count(DISTINCT entry.material_id) AS materials,
                              count(st.entry_id) AS structures
                       FROM entry LEFT JOIN structure st ON st.entry_id = entry.id GROUP BY entry.source_id) e ON e.source_id = s.id
            LEFT JOIN (SELECT entry.source_id, count(*) AS n FROM property JOIN entry ON entry.id = property.entry_id
                       GROUP BY entry.source_id) p ON p.source_id = s.id
            LEFT JOIN (SELECT entry.source_id, count(*) AS n FROM band_structure JOIN entry ON entry.id = band_structure.entry_id
                       GROUP BY entry.source_id) b ON b.source_id = s.id
            LEFT JOIN (SELECT source_name, count(*) AS n FROM quarantine GROUP BY source_name) q ON q.source_name = s.name
            ORDER BY s.name
            """
        )
    )
    sources = [SourceCounts(*row) for row in per_source]
    spans = conn.execute(
        text(
            """
            SELECT n, count(*) FROM (
              SELECT material_id, count(DISTINCT source_id) AS n FROM entry
              WHERE material_id IS NOT NULL GROUP BY material_id) spans
            GROUP BY n ORDER BY n
            """
        )
    ).all()
    multi = conn.execute(
        text(
            """
            SELECT material_id FROM entry WHERE material_id IS NOT NULL
            GROUP BY material_id HAVING count(DISTINCT source_id) > 1
            ORDER BY count(DISTINCT source_id) DESC, material_id LIMIT :limit
            """
        ).bindparams(limit=MULTI_SOURCE_LIST)
    ).scalars()
    totals = {
        "materials": sum(count for _, count in spans),
        "entries": sum(s.entries for s in sources),
        "structures": sum(s.structures for s in sources),
        "values": sum(s.values for s in sources),
        "band structures": sum(s.band_structures for s in sources),
        "quarantined": conn.execute(select(func.count()).select_from(Quarantine)).scalar_one(),
    }
    multi_rows = material_rows(conn, list(multi))
    return Overview(totals, sources, [tuple(r) for r in spans], multi_rows, fingerprint_map.points, fingerprint_map.total)


def map_signature(conn: Connection) -> tuple[Any, ...]:
    """Changes whenever a band structure is added, removed or updated (its row's ``xmin`` changes),
    so a map computed for one signature can be reused until then."""
    return tuple(
        conn.execute(
            text("SELECT count(*), max(id), max(xmin::text::bigint) FROM band_structure WHERE fingerprint IS NOT NULL")
        ).one()
    )


def fingerprint_map(conn: Connection) -> FingerprintMap:
    """The fingerprint map's points: the PCA projection ``atlas2d fingerprint map`` draws."""
    import numpy as np

    from atlas2d.embeddings.bands.plots import project_2d

    signature = map_signature(conn)
    total = signature[0]
    if total < 2:
        return FingerprintMap(signature, [], total)
    rows = conn.execute(
        select(
            BandStructure.fingerprint,
            BandStructure.entry_id,
            BandStructure.method,
            BandStructure.provenance["family"].astext,
            Entry.material_id,
            Entry.chemical_formula_reduced,
            Entry.source_key,
            Source.name,
        )
        .join(Entry, Entry.id == BandStructure.entry_id)
        .join(Source, Source.id == Entry.source_id)
        .where(BandStructure.fingerprint.is_not(None))
        .order_by(BandStructure.id)
        .limit(MAP_LIMIT)
    ).all()
    xy = project_2d(np.stack([np.asarray(r[0], dtype=np.float32) for r in rows]))
    points = [
        {
            "x": round(float(x), 4),
            "y": round(float(y), 4),
            "group": family or source,
            "label": f"{source}/{key}" + (f" {formula}" if formula else "") + f" ({method})",
            "href": f"/materials/{material}" if material is not None else f"/entries/{entry}",
        }
        for (_, entry, method, family, material, formula, key, source), (x, y) in zip(rows, xy.tolist(), strict=True)
    ]
    return FingerprintMap(signature, points, total)


# --- downloads ----------------------------------------------------------------------------


def material_documents_entries(conn: Connection, material_id: int) -> list[dict[str, Any]]:
    """The entry rows ``api.exports.jsonld.material_document`` builds a material's document from."""
    from atlas2d.api.exports.training_set import PROPERTY_COLUMNS, STRUCTURE_COLUMNS, entries_by_material

    rows = conn.execute(entries_by_material().where(Entry.material_id == material_id)).all()
    ids = [r.id for r in rows]
    properties: dict[int, list[dict[str, Any]]] = {}
    columns = [getattr(PropertyValue, c) for c in PROPERTY_COLUMNS]
    for row in conn.execute(select(PropertyValue.entry_id, *columns).where(PropertyValue.entry_id.in_(ids)).order_by(PropertyValue.id)):
        properties.setdefault(row.entry_id, []).append({c: getattr(row, c) for c in PROPERTY_COLUMNS})
    return [
        {
            "id": r.id,
            "source": r.source,
            "source_key": r.source_key,
            "revision": r.revision,
            "formula": r.material_formula,
            "structure": None if r.has_structure is None else {c.key: getattr(r, c.key) for c in STRUCTURE_COLUMNS},
            "properties": properties.get(r.id, []),
        }
        for r in rows
    ]

