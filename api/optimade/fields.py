"""The OPTIMADE properties atlas2d serves and the SQL expression behind each.

Every entry that has a harmonized structure is one OPTIMADE ``structures`` resource. The
resource id is ``<source>/<source_key>`` (stable across re-ingests, unlike row ids).
Harmonized values appear as provider fields with the ``_atlas2d_`` prefix; the per-method
band gaps keep PBE, HSE06, G0W0 and experiment apart, and ``band_gap`` /
``band_gap_method`` give the most trustworthy value available with the method it came from.

Entries of the ``optimade`` source (structures saved from another provider) serve the
provider's own ``immutable_id``, ``last_modified`` (when it is an RFC 3339 timestamp with an
offset) and references (``_atlas2d_provider_references``), read from the raw record ingest
kept verbatim (``atlas2d.ingest.sources.optimade_json``), and its species names: ``species_at_sites``
is ``structure.site_names`` where the provider named its sites otherwise than by element
(``Ac1``, ``Ac2``; filtered through the GIN index on ``SERVED_SPECIES_AT_SITES``), ``species`` its
species objects (``source_species``, else built from ``elements``).

``STRUCTURES`` is one selectable (a subquery PostgreSQL inlines into the outer query), so a
filter, a sort and a page are a single SQL statement. The property values come from
``preferred_value`` (chosen at ingest), one outer join on its primary key, which PostgreSQL
drops from any query that does not use a property. Each selectable is
built with SQLAlchemy and then frozen into SQL text (``_frozen``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from optimade.models.links import LinksResourceAttributes
from optimade.models.references import ReferenceResourceAttributes
from optimade.models.structures import StructureResourceAttributes
from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Select,
    Text,
    and_,
    case,
    cast,
    column,
    false,
    func,
    literal,
    null,
    select,
    text,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, JSONPATH
from sqlalchemy.sql import Subquery

from atlas2d.schema.fetch import fetched
from atlas2d.schema.models import SERVED_SPECIES_AT_SITES, Entry, PreferredValue, Source, Structure

PROVIDER_PREFIX = "atlas2d"

class Kind(Enum):
    """How a property can be filtered."""

    STRING = "string"
    NUMBER = "number"
    TIMESTAMP = "timestamp"
    LIST = "list"
    MATRIX = "matrix"
    SPECIES = "species"
    OBJECTS = "objects"
    """A list of objects served as stored: only ``IS KNOWN`` / ``IS UNKNOWN`` filter it."""
    ABSENT = "absent"


@dataclass(frozen=True)
class Field:
    """One OPTIMADE property: its SQL column in ``STRUCTURES`` and how it filters.

    ``length`` names the integer column equal to the list's length (``elements`` ->
    ``nelements``), so ``LENGTH`` filters use a plain column.
    """

    name: str
    kind: Kind
    length: str | None = None


def _value(field: str, *, method_column: bool = False) -> ColumnElement:
    """The value (or its method) the entry serves as ``field``, chosen at ingest (``atlas2d.ingest.preferred``)."""
    return PreferredValue.__table__.c[f"{field}_method" if method_column else field]


@dataclass(frozen=True, eq=False)
class ProviderField:
    """An ``_atlas2d_`` property, declared once: the structures selectable takes its column from
    ``sql`` and ``/info/structures`` describes it from the rest."""

    name: str
    """Without the ``_atlas2d_`` prefix; also the column name in ``STRUCTURES``."""
    sql: ColumnElement
    type: str
    """OPTIMADE type: ``string``, ``integer``, ``float`` or ``list`` (of objects, neither filtered nor sorted by value)."""
    description: str
    unit: str | None = None

    @property
    def kind(self) -> Kind:
        """How the field filters."""
        return {"string": Kind.STRING, "list": Kind.OBJECTS}.get(self.type, Kind.NUMBER)

    def info(self) -> dict[str, object]:
        """The field's entry in ``/info/structures`` (the reference server's ``provider_fields``)."""
        sortable = self.kind is not Kind.OBJECTS
        return {"name": self.name, "type": self.type, "description": self.description, "sortable": sortable} | (
            {"unit": self.unit} if self.unit else {}
        )


OPTIMADE_SOURCE = "optimade"
"""The source of structures saved from OPTIMADE providers (``atlas2d.ingest.sources.optimade_json``'s name)."""

_FROM_PROVIDER = Source.name == OPTIMADE_SOURCE
_PROVIDER_ATTRIBUTES = Entry.raw["attributes"]

_PROVIDER_TIMESTAMP = cast(
    func.jsonb_path_query_first(
        Entry.raw,
        cast(literal('$.attributes.last_modified.datetime() ? (@.type() == "timestamp with time zone")'), JSONPATH),
        cast(literal("{}"), JSONB),
        true(),
    ).op("#>>")(cast(literal("{}"), ARRAY(Text))),
    DateTime(timezone=True),
)
"""The provider's ``last_modified`` as a timestamp, NULL unless it is one with an offset.

SQL/JSON's ``datetime()`` parses it; in silent mode a value that is no timestamp (``"2023-02-30T00:00:00Z"``,
``"yesterday"``, a number) gives NULL instead of an error, and the filter keeps only values with a time zone
(RFC 3339 requires one; a naive time would be read in the session's zone). The text of the parsed value is ISO
8601 with its offset, so the cast cannot fail. Works on PostgreSQL >= 13, unlike ``pg_input_is_valid``.
"""


def _provider_string(name: str) -> ColumnElement:
    """The provider's string attribute ``name`` of an ``optimade`` entry's raw record, else NULL."""
    value = _PROVIDER_ATTRIBUTES[name]
    return case((and_(_FROM_PROVIDER, func.jsonb_typeof(value) == "string"), value.astext), else_=null())


PROVIDER_FIELDS: tuple[ProviderField, ...] = (
    ProviderField("source", Source.name, "string", "Name of the source database the entry comes from (c2db, 2dmatpedia, mc2d, …)."),
    ProviderField("source_id", Entry.source_key, "string", "The entry's identifier in its source database."),
    ProviderField(
        "material_id", Entry.material_id, "integer", "atlas2d's canonical material (deduplication cluster) the entry belongs to."
    ),
    ProviderField(
        "band_gap",
        _value("band_gap"),
        "float",
        "Band gap; the method is in _atlas2d_band_gap_method (preference: experiment, G0W0, HSE06, PBE).",
        "eV",
    ),
    ProviderField(
        "band_gap_method",
        _value("band_gap", method_column=True),
        "string",
        "Method of _atlas2d_band_gap: expt[:technique], G0W0, HSE06 or PBE.",
    ),
    ProviderField("band_gap_pbe", _value("band_gap_pbe"), "float", "Band gap computed with PBE.", "eV"),
    ProviderField("band_gap_hse06", _value("band_gap_hse06"), "float", "Band gap computed with HSE06.", "eV"),
    ProviderField("band_gap_g0w0", _value("band_gap_g0w0"), "float", "Band gap computed with G0W0.", "eV"),
    ProviderField("band_gap_expt", _value("band_gap_expt"), "float", "Measured band gap.", "eV"),
    ProviderField(
        "formation_energy",
        _value("formation_energy"),
        "float",
        "Formation energy per atom (PBE when available; method in _atlas2d_formation_energy_method).",
        "eV/atom",
    ),
    ProviderField(
        "formation_energy_method",
        _value("formation_energy", method_column=True),
        "string",
        "Method of _atlas2d_formation_energy.",
    ),
    ProviderField(
        "thickness", Structure.thickness, "float", "Layer thickness: extent of the atoms along the non-periodic z axis.", "Å"
    ),
    ProviderField(
        "vacuum", Structure.vacuum, "float", "Vacuum in the cell: out-of-plane lattice length minus the layer thickness.", "Å"
    ),
    ProviderField(
        "provider_references",
        case((_FROM_PROVIDER, Entry.raw["_optimade_references"]), else_=null()),
        "list",
        "For structures saved from another OPTIMADE provider (source optimade): the provider's reference resources "
        "the structure related to, as the provider wrote them.",
    ),
)
"""The ``_atlas2d_`` fields in the order of their columns and of ``/info/structures``."""


def _frozen(query: Select, name: str) -> Subquery:
    """``query`` compiled once to PostgreSQL text (constants inline), as a named subquery
    with the same typed columns.

    Every statement over the structures selectable otherwise walks its joins again to build
    SQLAlchemy's cache key and sends their constants as bound parameters; frozen, a no-hit
    request's two statements cost 3-4 ms less. The constants are atlas2d's own (field
    names), never a user's input.
    """
    sql = query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    columns = (column(c.name, c.type) for c in query.selected_columns)
    return text(str(sql)).columns(*columns).subquery(name)


def _structures() -> Subquery:
    columns: dict[str, ColumnElement] = {
        "id": Source.name + literal("/") + Entry.source_key,
        "type": literal("structures"),
        "last_modified": case((_FROM_PROVIDER, func.coalesce(_PROVIDER_TIMESTAMP, Entry.updated_at)), else_=Entry.updated_at),
        "immutable_id": _provider_string("immutable_id"),
        "elements": Structure.elements,
        "nelements": Structure.nelements,
        "elements_ratios": Structure.elements_ratios,
        "chemical_formula_descriptive": Structure.chemical_formula_descriptive,
        "chemical_formula_reduced": Structure.chemical_formula_reduced,
        "chemical_formula_hill": cast(null(), Text),
        "chemical_formula_anonymous": Structure.chemical_formula_anonymous,
        "dimension_types": Structure.dimension_types,
        "nperiodic_dimensions": Structure.nperiodic_dimensions,
        "lattice_vectors": fetched(Structure.lattice_vectors),
        "cartesian_site_positions": fetched(Structure.cartesian_site_positions),
        "nsites": Structure.nsites,
        "species_at_sites": SERVED_SPECIES_AT_SITES,
        "species": Structure.elements,
        "source_species": Structure.species,
        "nspecies": func.coalesce(func.jsonb_array_length(Structure.species), Structure.nelements),
        "assemblies": cast(null(), Text),
        "structure_features": cast(literal("{}"), ARRAY(Text)),
        **{field.name: field.sql for field in PROVIDER_FIELDS},
        "entry_pk": Structure.entry_id,
        "source_name": Source.name,
        "entry_key": Entry.source_key,
    }
    # Outer joins, though every structure has its entry and source (non-null foreign keys):
    # PostgreSQL drops an outer join to a unique key whose columns a query never uses, so a
    # count over structure columns scans one table instead of joining three. ``entry_pk`` is
    # structure.entry_id for the same reason: its primary-key index serves ORDER BY … LIMIT.
    query = (
        select(*(value.label(name) for name, value in columns.items()))
        .select_from(Structure)
        .outerjoin(Entry, Entry.id == Structure.entry_id)
        .outerjoin(Source, Source.id == Entry.source_id)
        .outerjoin(PreferredValue, PreferredValue.entry_id == Structure.entry_id)
    )
    return _frozen(query, "optimade_structures")


STRUCTURES: Subquery = _structures()
"""The selectable every structures query runs against (columns named as in ``FIELDS``,
provider fields without their prefix, plus ``entry_pk`` for a stable order)."""

STANDARD_FIELDS: tuple[Field, ...] = (
    Field("id", Kind.STRING),
    Field("type", Kind.STRING),
    Field("last_modified", Kind.TIMESTAMP),
    Field("immutable_id", Kind.STRING),
    Field("elements", Kind.LIST, length="nelements"),
    Field("nelements", Kind.NUMBER),
    Field("elements_ratios", Kind.LIST, length="nelements"),
    Field("chemical_formula_descriptive", Kind.STRING),
    Field("chemical_formula_reduced", Kind.STRING),
    Field("chemical_formula_hill", Kind.ABSENT),
    Field("chemical_formula_anonymous", Kind.STRING),
    Field("dimension_types", Kind.LIST),
    Field("nperiodic_dimensions", Kind.NUMBER),
    Field("lattice_vectors", Kind.MATRIX),
    Field("cartesian_site_positions", Kind.MATRIX, length="nsites"),
    Field("nsites", Kind.NUMBER),
    Field("species_at_sites", Kind.LIST, length="nsites"),
    Field("species", Kind.SPECIES, length="nspecies"),
    Field("assemblies", Kind.ABSENT),
    Field("structure_features", Kind.LIST),
    Field("space_group_symmetry_operations_xyz", Kind.ABSENT),
    Field("space_group_symbol_hall", Kind.ABSENT),
    Field("space_group_symbol_hermann_mauguin", Kind.ABSENT),
    Field("space_group_symbol_hermann_mauguin_extended", Kind.ABSENT),
    Field("space_group_it_number", Kind.ABSENT),
)
"""OPTIMADE structure properties; ``ABSENT`` ones are never stored, so they are always unknown."""


@dataclass(frozen=True)
class Resource:
    """One OPTIMADE entry type served from SQL: its selectable and its filterable fields.

    ``fields`` maps OPTIMADE names to ``Field``; ``Field.name`` is the column in
    ``selectable``. ``order`` is the column that makes paging stable.
    """

    type: str
    selectable: Subquery
    fields: dict[str, Field]
    order: str

    def column(self, field: Field) -> ColumnElement:
        """The column behind ``field`` (absent fields are a typed NULL)."""
        if field.kind is Kind.ABSENT:
            return cast(null(), Text)
        return self.selectable.c[field.name]

    def length_column(self, field: Field) -> ColumnElement:
        """The length of a list property, from its alias column when it has one."""
        if field.length is not None:
            return self.selectable.c[field.length]
        if field.kind is Kind.MATRIX:
            return func.coalesce(func.array_length(self.column(field), 1), 0)
        return func.cardinality(self.column(field))


def _with_absent(fields: dict[str, Field], attributes: type[BaseModel]) -> dict[str, Field]:
    """Add the entry type's OPTIMADE attributes that atlas2d never stores, as always unknown."""
    return {name: Field(name, Kind.ABSENT) for name in attributes.model_fields} | fields


STRUCTURE_RESOURCE = Resource(
    type="structures",
    selectable=STRUCTURES,
    fields=_with_absent(
        {f.name: f for f in STANDARD_FIELDS}
        | {f"_{PROVIDER_PREFIX}_{p.name}": Field(p.name, p.kind) for p in PROVIDER_FIELDS},
        StructureResourceAttributes,
    ),
    order="entry_pk",
)
"""Every filterable structure property by its OPTIMADE name."""


def _references() -> Subquery:
    """Each source database is a reference: its title, URL and how to cite it."""
    query = select(
        Source.name.label("id"),
        literal("references").label("type"),
        Source.title.label("title"),
        Source.url.label("url"),
        Source.citation.label("note"),
        Source.id.label("source_pk"),
    )
    return _frozen(query, "optimade_references")


REFERENCE_RESOURCE = Resource(
    type="references",
    selectable=_references(),
    fields=_with_absent(
        {
            "id": Field("id", Kind.STRING),
            "type": Field("type", Kind.STRING),
            "title": Field("title", Kind.STRING),
            "url": Field("url", Kind.STRING),
            "note": Field("note", Kind.STRING),
        },
        ReferenceResourceAttributes,
    ),
    order="source_pk",
)


def _links() -> Subquery:
    """atlas2d is a single database without child databases: the links table is empty."""
    query = select(literal("").label("id"), literal("links").label("type"), literal(0).label("link_pk")).where(false())
    return _frozen(query, "optimade_links")


LINK_RESOURCE = Resource(
    type="links",
    selectable=_links(),
    fields=_with_absent({"id": Field("id", Kind.STRING), "type": Field("type", Kind.STRING)}, LinksResourceAttributes),
    order="link_pk",
)
