"""The vocabulary and the ontology agree, and every method the adapters emit has an IRI.

The methods are collected by running every registered adapter over the bundled samples
(values and band structures alike), so a method an adapter starts to emit without an
ontology individual fails here, not in a graph build.
"""

from __future__ import annotations

import pytest
from rdflib import Literal
from rdflib.namespace import RDF, RDFS

from atlas2d.ingest.band_records import BandRecord
from atlas2d.ingest.harmonize import value
from atlas2d.ingest.records import HarmonizationError, Record
from atlas2d.ingest.samples import bundled
from atlas2d.ingest.sources.registry import registry
from atlas2d.ingest.vocabulary import METHODS, PROPERTIES, UNIT_SPELLINGS, check_method, experimental_method
from atlas2d.ontology.vocabulary import A2D, ID, UNITS, method_iri, ontology, property_classes

METHOD_CLASSES = {A2D.ComputationalMethod, A2D.ExperimentalMeasurement}


def _emitted_methods() -> set[str]:
    methods: set[str] = set()
    for name, paths in bundled():
        adapter = registry().adapter(name)
        for path in paths:
            for item in adapter.read(path):
                if isinstance(item, BandRecord):
                    methods.add(item.method)
                    item = item.entry
                if isinstance(item, Record):
                    methods.update(v.method for v in item.values)
    return methods


def test_every_method_the_adapters_emit_has_an_ontology_iri() -> None:
    emitted = _emitted_methods()
    assert {"PBE", "vdW-DF2", "rVV10", "optB88-vdW", "tight-binding", "expt:photoluminescence"} <= emitted
    graph = ontology()
    for method in emitted:
        check_method(method)
        iri, cls = method_iri(method)
        assert cls in METHOD_CLASSES, method
        if method in METHODS:
            assert (iri, RDF.type, cls) in graph, f"{method}: {iri} is not an individual of the ontology"
        else:
            assert method.startswith("expt:") and cls == A2D.ExperimentalMeasurement and iri.startswith(str(ID)), method


def test_every_vocabulary_method_is_an_ontology_individual_labelled_with_its_name() -> None:
    graph = ontology()
    for method, term in METHODS.items():
        iri = A2D[term]
        assert graph.value(iri, RDF.type) in METHOD_CLASSES, method
        assert graph.value(iri, RDFS.label) == Literal(method)


def test_every_property_has_an_ontology_class_and_its_unit_an_iri() -> None:
    assert set(property_classes()) == set(PROPERTIES)
    graph = ontology()
    for name, rule in PROPERTIES.items():
        default_unit = graph.value(property_classes()[name], A2D.defaultUnit)
        if rule.unit is None:
            assert default_unit is None, name
            continue
        assert UNIT_SPELLINGS[rule.unit] == (rule.unit, 1.0), f"{name}: its unit {rule.unit!r} is not a spelling of itself"
        assert default_unit == UNITS[rule.unit], name


def test_values_outside_the_vocabulary_are_refused() -> None:
    with pytest.raises(HarmonizationError, match="unknown method 'B3LYP'"):
        value("band_gap", 1.0, "B3LYP", "gap")
    with pytest.raises(HarmonizationError, match="unknown property 'colour'"):
        value("colour", "red", "PBE", "colour")
    with pytest.raises(HarmonizationError, match="unit 'eV' cannot be converted"):
        value("curie_temperature", 40, "expt", "tc", unit="eV")
    with pytest.raises(HarmonizationError, match="is negative"):
        value("band_gap", -0.1, "PBE", "gap")
    assert value("band_gap", 120, "PBE", "gap", unit="meV").value == pytest.approx(0.12)
    assert experimental_method(" Photoluminescence ") == "expt:photoluminescence"
    assert experimental_method("") == "expt"
    with pytest.raises(HarmonizationError):
        check_method("expt:")
