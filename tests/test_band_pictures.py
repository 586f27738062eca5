"""Tight-binding generator and band rasterisation: physics checks and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from atlas2d.embeddings.bands.picture import (
    ENERGY_PIXELS,
    ENERGY_WINDOW,
    SEGMENT_WIDTH,
    band_gap,
    rasterise,
    reference_energy,
)
from atlas2d.ingest.band_records import (
    BandDataError,
    Segment,
    segments_from_json,
    validate_segments,
)
from atlas2d.ingest.sources.tight_binding import (
    FAMILIES,
    ORIGIN,
    band_structure,
    generate,
    lattice_of,
    random_parameters,
)


def _params(family: str, seed: int = 0, **changes: object) -> dict:
    params = random_parameters(family, np.random.default_rng(seed))
    params.update(changes)
    return params


def test_graphene_has_a_dirac_point_at_k_and_the_bandwidth_6t() -> None:
    t = 2.7
    bands = band_structure(_params("dirac", hoppings=[t, 0.0], energy_zero=0.0), "g")
    gamma_m, m_k, k_gamma = bands.record.segments
    assert m_k.end == "K"
    at_k = m_k.energies[0, :, -1]
    assert abs(at_k[1] - at_k[0]) < 1e-9
    all_e = np.concatenate([s.energies[0] for s in bands.record.segments], axis=1)
    assert all_e.max() - all_e.min() == pytest.approx(6 * t, rel=1e-9)
    assert band_gap(bands.record.segments, bands.record.fermi_level) == 0.0
    assert not bands.flat_band


def test_kagome_without_second_neighbours_has_an_exactly_flat_band() -> None:
    t = 1.0
    bands = band_structure(_params("kagome", hoppings=[t, 0.0]), "k")
    energies = np.concatenate([s.energies[0] for s in bands.record.segments], axis=1)
    widths = energies.max(axis=1) - energies.min(axis=1)
    assert widths.min() < 1e-9
    assert energies[np.argmin(widths)].mean() - bands.record.entry.raw["model"]["energy_zero"] == pytest.approx(2 * t)
    assert bands.flat_band
    dispersed = band_structure(_params("kagome", hoppings=[t, 0.3]), "k2")
    assert not dispersed.flat_band


def test_lieb_flat_band_and_staggered_honeycomb_gap() -> None:
    lieb = band_structure(_params("lieb", hoppings=[1.0, 0.0], onsite=[0.0, 0.0, 0.0]), "l")
    assert lieb.flat_band
    gapped = band_structure(_params("gapped", hoppings=[2.0, 0.0], onsite=[0.75, -0.75]), "h")
    assert band_gap(gapped.record.segments, gapped.record.fermi_level) == pytest.approx(1.5, abs=1e-6)


def test_generation_is_seeded_and_labelled_as_generated() -> None:
    a, b = generate(3, seed=5), generate(3, seed=5)
    assert [g.record.data_sha256() for g in a] == [g.record.data_sha256() for g in b]
    assert [g.record.data_sha256() for g in generate(3, seed=6)] != [g.record.data_sha256() for g in a]
    assert {g.family for g in a} == set(FAMILIES)
    for g in a:
        assert g.record.provenance["origin"] == ORIGIN
        assert g.record.entry.raw["origin"] == ORIGIN
        assert g.record.entry.structure is None
        validate_segments(g.record.segments)


def test_unknown_family_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown family"):
        lattice_of("hexagonal-ice", 3.0)
    with pytest.raises(ValueError, match="unknown family"):
        random_parameters("hexagonal-ice", np.random.default_rng(0))


def test_picture_shape_range_and_determinism() -> None:
    record = band_structure(_params("kagome"), "k").record
    first = rasterise(record.segments, record.fermi_level)
    second = rasterise(record.segments, record.fermi_level)
    assert first.shape == (3, ENERGY_PIXELS, SEGMENT_WIDTH)
    assert first.dtype == np.float32
    assert np.array_equal(first, second)
    assert 0.0 <= first.min() and first.max() <= 1.0 and first.max() > 0.5


def test_reference_is_mid_gap_for_insulators_and_fermi_level_for_metals() -> None:
    gapped = band_structure(_params("gapped", hoppings=[2.0, 0.0], onsite=[1.0, -1.0], energy_zero=0.0), "h").record
    for fermi in (-0.9, 0.0, 0.7):
        assert reference_energy(gapped.segments, fermi) == pytest.approx(0.0, abs=1e-9)
    metal = band_structure(_params("square", fill=0.3), "s").record
    assert reference_energy(metal.segments, metal.fermi_level) == metal.fermi_level


def test_bands_outside_the_window_draw_nothing() -> None:
    d = np.linspace(0.0, 1.0, 10)
    far = Segment("Γ", "X", d, np.full((1, 1, 10), 3 * ENERGY_WINDOW))
    assert rasterise([far], 0.0).max() == 0.0


@pytest.mark.parametrize(
    ("energies", "distances", "reason"),
    [
        (np.zeros((1, 2, 5)), np.array([0.0, 0.1, 0.05, 0.2, 0.3]), "decrease"),
        (np.full((1, 2, 5), np.nan), np.linspace(0, 1, 5), "non-finite"),
        (np.full((1, 2, 5), 5e4), np.linspace(0, 1, 5), "above"),
        (np.zeros((3, 2, 5)), np.linspace(0, 1, 5), "spin channels"),
        (np.zeros((2, 5)), np.linspace(0, 1, 5), "axes"),
        (np.zeros((1, 2, 1)), np.zeros(1), "k-points"),
        (np.zeros((1, 2, 3)), np.zeros(3), "zero length"),
    ],
)
def test_bad_band_data_is_rejected_with_the_reason(energies: np.ndarray, distances: np.ndarray, reason: str) -> None:
    with pytest.raises(BandDataError, match=reason):
        validate_segments([Segment("Γ", "X", distances, energies)])


def test_stored_json_round_trips_the_segments() -> None:
    record = band_structure(_params("lieb"), "l").record
    back = segments_from_json(record.kpath_json(), record.energies_json())
    assert [s.label for s in back] == [s.label for s in record.segments]
    for a, b in zip(back, record.segments, strict=True):
        assert np.allclose(a.energies, b.energies, atol=1e-6)
        assert np.allclose(a.distances, b.distances, atol=1e-8)
