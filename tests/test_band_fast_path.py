"""The fast CPU path (``rasterise_many``, the frozen oneDNN encoder) gives today's pictures and fingerprints.

Checked on the bundled real PBE band structures (``ingest/samples/bands-gpaw``) and on the
shipped pictures of all 132 (``weights/bands_gpaw_pictures.npz``), against a plain
per-band drawing written here and against the eager PyTorch module.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from atlas2d.embeddings.bands.model import load_model, pool
from atlas2d.embeddings.bands.picture import (
    ENERGY_PIXELS,
    ENERGY_WINDOW,
    LINE_SIGMA,
    SEGMENT_WIDTH,
    SUPERSAMPLE,
    rasterise,
    rasterise_many,
    reference_energy,
)
from atlas2d.embeddings.bands.real_set import load_compact
from atlas2d.ingest.band_records import Segment
from atlas2d.ingest.bandfiles.index import reader_for
from atlas2d.ingest.samples import BANDS_INDEX
from atlas2d.ingest.sources.tight_binding import generate

Band = tuple[list[Segment], float]


@pytest.fixture(scope="module")
def bundled() -> list[Band]:
    """The bundled real band structures as (segments, Fermi level)."""
    with BANDS_INDEX.open(encoding="utf-8", newline="") as handle:
        files = [BANDS_INDEX.parent / row["file"] for row in csv.DictReader(handle)]
    out = []
    for path in files:
        _, read = reader_for(path)
        fermi, segments, _ = read(path)
        out.append((segments, 0.0 if fermi is None else fermi))
    return out


def plain_picture(segments: list[Segment], fermi_level: float) -> np.ndarray:
    """The picture drawn the slow, obvious way: every band interpolated and drawn on every row."""
    reference = reference_energy(segments, fermi_level)
    step = 2 * ENERGY_WINDOW / (ENERGY_PIXELS - 1)
    rows = np.arange(ENERGY_PIXELS)[:, None]
    pictures = []
    for segment in segments:
        u = np.linspace(segment.distances[0], segment.distances[-1], SEGMENT_WIDTH * SUPERSAMPLE)
        fine = np.zeros((ENERGY_PIXELS, u.size))
        for band in segment.energies.reshape(-1, segment.distances.size):
            centre = (np.interp(u, segment.distances, band) - reference + ENERGY_WINDOW) / step
            fine += np.exp(-0.5 * ((rows - centre) / LINE_SIGMA) ** 2)
        pictures.append(np.minimum(fine, 1.0).reshape(ENERGY_PIXELS, SEGMENT_WIDTH, SUPERSAMPLE).mean(axis=2))
    return np.stack(pictures)


def eager_fingerprints(pictures: list[np.ndarray]) -> np.ndarray:
    """Fingerprints through the eager module and ``pool``, as training computes them."""
    net = load_model(device="cpu").net
    with torch.inference_mode():
        x = torch.from_numpy(np.concatenate(pictures)).unsqueeze(1)
        owner = torch.repeat_interleave(torch.arange(len(pictures)), torch.tensor([p.shape[0] for p in pictures]))
        return pool(net.encode_segments(x), owner, len(pictures)).numpy()


def test_batched_pictures_equal_the_plain_drawing_of_the_bundled_real_bands(bundled: list[Band]) -> None:
    drawn = rasterise_many(bundled)
    assert len(drawn) == len(bundled) >= 12
    for (segments, fermi), picture in zip(bundled, drawn, strict=True):
        assert picture.dtype == np.float32 and picture.shape == (len(segments), ENERGY_PIXELS, SEGMENT_WIDTH)
        np.testing.assert_allclose(picture, plain_picture(segments, fermi), atol=1e-4)


def test_batched_pictures_do_not_depend_on_the_batch(bundled: list[Band]) -> None:
    generated = [(m.record.segments, m.record.fermi_level) for m in generate(3, seed=5)]
    outside = ([Segment("G", "M", np.array([0.0, 1.0]), np.array([[[-30.0, -29.0], [20.0, 21.0]]]))], 0.0)
    mixed = bundled + [outside] + generated
    alone = [rasterise(s, f) for s, f in mixed]
    for chunk in (1, 2, 7, 64):
        for a, b in zip(alone, rasterise_many(mixed, chunk=chunk), strict=True):
            assert np.array_equal(a, b)
    assert alone[len(bundled)].max() == 0.0
    assert rasterise_many([]) == []


def test_a_segment_of_one_k_point_and_repeated_k_points_draw_as_constant_bands() -> None:
    single = Segment("G", "G", np.array([0.0]), np.array([[[0.5], [-1.0]]]))
    repeated = Segment("G", "M", np.array([0.0, 0.0, 1.0, 1.0]), np.array([[[0.5, 0.5, 0.5, 0.5]]]))
    picture = rasterise_many([([single, repeated], 0.0)])[0]
    np.testing.assert_allclose(picture, plain_picture([single, repeated], 0.0), atol=1e-4)
    assert np.allclose(picture[0], picture[0][:, :1]) and picture[0].max() > 0.9


def test_fast_fingerprints_equal_the_eager_module_on_the_shipped_real_pictures() -> None:
    pictures = load_compact().pictures
    fast = load_model(device="cpu").encode(pictures)
    assert fast.shape == (len(pictures), 64)
    np.testing.assert_allclose(fast, eager_fingerprints(pictures), rtol=0, atol=1e-5)


def test_bundled_band_files_draw_the_shipped_pictures_and_their_fingerprints(bundled: list[Band]) -> None:
    """The files drawn today give the pictures shipped (8-bit copies made with the old drawing) within their rounding."""
    with BANDS_INDEX.open(encoding="utf-8", newline="") as handle:
        labels = [row["source_id"] for row in csv.DictReader(handle)]
    shipped = load_compact()
    drawn = rasterise_many(bundled)
    for label, picture in zip(labels, drawn, strict=True):
        assert np.abs(picture - shipped.pictures[shipped.labels.index(label)]).max() <= 0.5 / 255 + 1e-6, label
    model = load_model(device="cpu")
    np.testing.assert_allclose(model.encode(drawn), eager_fingerprints(drawn), rtol=0, atol=1e-5)
    assert model.encode([]).shape == (0, 64)
