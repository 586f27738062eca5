"""The words atlas2d stores, written down once: properties, methods and unit spellings.

Units: energies in eV (per atom where the name says so), lengths in Å, magnetic moments in
μB per cell, temperatures in K. A property's values are always stored in its one unit, so
values from different sources compare without conversion; a source that writes another
unit names it and ``atlas2d.ingest.harmonize.value`` converts.

Values: a missing field is unknown (no value row), never zero; a present field that is not
a finite number is a broken record. Every value keeps its method (``PBE``, ``HSE06``,
``G0W0``, ``expt:<technique>``…) so values of one property from different methods sit side
by side. An optical gap (exciton energy) is ``optical_gap``, never ``band_gap``.

Every method has an individual in the atlas2d ontology (``ontology/atlas2d.ttl``), named
here, so the knowledge graph and the JSON-LD exports never meet a method they cannot
name; ``expt:<technique>`` is an experimental measurement of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from atlas2d.ingest.records import HarmonizationError


@dataclass(frozen=True)
class PropertyRule:
    """How values of one property are stored and which values are impossible."""

    unit: str | None
    """The unit every value is stored in; ``None`` for a text property (kept in ``value_text``)."""
    non_negative: bool = False
    """A negative value is a broken record, not a material."""


PROPERTIES: dict[str, PropertyRule] = {
    "band_gap": PropertyRule("eV", non_negative=True),
    "band_gap_type": PropertyRule(None),
    "optical_gap": PropertyRule("eV", non_negative=True),
    "formation_energy": PropertyRule("eV/atom"),
    "energy_above_hull": PropertyRule("eV/atom"),
    "decomposition_energy": PropertyRule("eV/atom"),
    "exfoliation_energy": PropertyRule("eV/atom"),
    "binding_energy": PropertyRule("meV/Å^2", non_negative=True),
    "total_energy": PropertyRule("eV"),
    "energy_per_atom": PropertyRule("eV/atom"),
    "magnetic_moment": PropertyRule("μB"),
    "magnetic_state": PropertyRule(None),
    "curie_temperature": PropertyRule("K", non_negative=True),
    "dynamically_stable": PropertyRule(None),
    "direct_band_gap": PropertyRule("eV", non_negative=True),
    "conduction_band_minimum": PropertyRule("eV"),
    "valence_band_maximum": PropertyRule("eV"),
    "work_function": PropertyRule("eV"),
    "fermi_level": PropertyRule("eV"),
    "exciton_binding_energy": PropertyRule("eV"),
    "effective_mass_electron_1": PropertyRule("m_e"),
    "effective_mass_electron_2": PropertyRule("m_e"),
    "effective_mass_hole_1": PropertyRule("m_e"),
    "effective_mass_hole_2": PropertyRule("m_e"),
    **{f"stiffness_{i}{j}": PropertyRule("N/m") for i in "123" for j in "123"},
    "speed_of_sound_x": PropertyRule("m/s"),
    "speed_of_sound_y": PropertyRule("m/s"),
    "thermodynamic_stability_level": PropertyRule(None),
}
"""The property vocabulary: harmonized name -> its unit and value rule. Each name is the
``a2d:propertyName`` of one property class in the ontology.

``energy_above_hull`` may be negative: C2DB reports a few monolayers slightly below its
reference hull (-0.006 eV/atom), a real result of its reference set, not a broken record.
Effective masses are signed (a hole mass is negative in C2DB's convention)."""

EXPERIMENT = "expt"
"""The method of a measured value whose technique is not recorded."""

METHODS: dict[str, str] = {
    "PBE": "PBE",
    "PBE+SOC": "PBE_SOC",
    "PBE+U": "PBE_U",
    "LDA": "LDA",
    "QSGW": "QSGW",
    "HSE06": "HSE06",
    "G0W0": "G0W0",
    "BSE": "BSE",
    "vdW-DF2": "vdW-DF2",
    "rVV10": "rVV10",
    "optB88-vdW": "optB88-vdW",
    "tight-binding": "TightBinding",
    "expt": "Experiment",
}
"""Method name as stored -> local name of its individual in the ontology (``a2d:<name>``)."""

EXPERIMENT_PREFIX = f"{EXPERIMENT}:"
"""A measured value's method is ``expt:<technique>``; each technique is an experimental
measurement of its own in the knowledge graph."""

UNIT_SPELLINGS: dict[str, tuple[str, float]] = {
    "eV": ("eV", 1.0),
    "meV": ("eV", 1e-3),
    "Ry": ("eV", 13.605693122994),
    "Ha": ("eV", 27.211386245988),
    "eV/atom": ("eV/atom", 1.0),
    "meV/atom": ("eV/atom", 1e-3),
    "K": ("K", 1.0),
    "μB": ("μB", 1.0),
    "muB": ("μB", 1.0),
    "meV/Å^2": ("meV/Å^2", 1.0),
    "meV/A^2": ("meV/Å^2", 1.0),
    "J/m^2": ("meV/Å^2", 1e3 / 16.021766339),
    "eV/Å^2": ("meV/Å^2", 1e3),
    "m_e": ("m_e", 1.0),
    "N/m": ("N/m", 1.0),
    "m/s": ("m/s", 1.0),
}
"""Unit spellings sources use -> (the atlas2d unit, the factor that converts into it)."""


def experimental_method(technique: str) -> str:
    """``expt:<technique>`` (lower case, spaces kept) for a measured value; ``expt`` without one."""
    technique = technique.strip().lower()
    return f"{EXPERIMENT_PREFIX}{technique}" if technique else EXPERIMENT


def is_experimental(method: str) -> bool:
    """Whether ``method`` names a measurement (``expt`` or ``expt:<technique>``)."""
    return method == EXPERIMENT or method.startswith(EXPERIMENT_PREFIX)


def check_method(method: str) -> None:
    """Raise ``HarmonizationError`` unless ``method`` is in the vocabulary (or a measurement)."""
    if method not in METHODS and not (method.startswith(EXPERIMENT_PREFIX) and len(method) > len(EXPERIMENT_PREFIX)):
        raise HarmonizationError(f"unknown method {method!r}: add it to atlas2d.ingest.vocabulary.METHODS and the ontology")
