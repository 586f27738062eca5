"""``atlas2d fingerprint …`` and ``atlas2d similar-bands``: band-structure fingerprints.

``fingerprint`` (no subcommand) fills missing fingerprints; ``generate`` stores generated
tight-binding band structures (no real source in the samples carries band energies);
``train`` trains the autoencoder (generated and real band structures); ``map`` draws all fingerprints in 2D. ``similar-bands``
answers "which entries have bands like this one" from the pgvector index.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from atlas2d.api.console import console, fail, print_table, progress
from atlas2d.api.store_access import open_store, settings_of
from atlas2d.schema.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

app = typer.Typer(
    help=(
        "Band-structure fingerprints (a convolutional autoencoder on a fixed-grid picture of the "
        "bands within ±4 eV of E_F / mid-gap, stored as vector(64), searched by L2 distance in "
        "PostgreSQL). Without a subcommand: fingerprint every stored band structure that lacks "
        "an up-to-date one."
    ),
    invoke_without_command=True,
    no_args_is_help=False,
)

DeviceOption = Annotated[str, typer.Option("--device", help="auto (CUDA when present, else CPU), cpu, cuda, cuda:1 …")]
WeightsOption = Annotated[
    Path | None, typer.Option("--weights", help="Model weights (.pt). Default: the weights shipped with atlas2d.")
]


def _load(weights: Path | None, device: str):  # noqa: ANN202 - a FingerprintModel
    from atlas2d.embeddings.bands.model import WEIGHTS, load_model

    path = weights or WEIGHTS
    if not path.is_file():
        fail(f"no weights at {path}; train them with 'atlas2d fingerprint train'")
    try:
        return load_model(path, device)
    except (RuntimeError, KeyError, ValueError) as exc:
        fail(f"cannot load {path} on device {device!r}: {str(exc).splitlines()[0]}")


@app.callback()
def fill(
    ctx: typer.Context,
    device: DeviceOption = "auto",
    batch_size: Annotated[int, typer.Option(min=1, help="Band structures per batch (one commit each).")] = 256,
    weights: WeightsOption = None,
) -> None:
    """Fingerprint the stored band structures that have none, or one from another model.

    Up-to-date fingerprints (same model identifier, same band data) are skipped, so a
    re-run does nothing; an interrupted run keeps the batches it committed.
    """
    if ctx.invoked_subcommand is None:
        fill_missing(settings_of(ctx), device, batch_size, weights)


def fill_missing(settings: Settings, device: str = "auto", batch_size: int = 256, weights: Path | None = None) -> None:
    """Fingerprint every stale band structure with a progress bar (``atlas2d fingerprint``, the demo)."""
    from atlas2d.embeddings.bands.refresh import count_stale, refresh

    model = _load(weights, device)
    with open_store(settings) as session:
        stale, total = count_stale(session, model.identifier)
        if stale == 0:
            console.print(f"all {total} band structures have up-to-date fingerprints ({model.identifier})")
            return
        with progress() as bar:
            task = bar.add_task(f"fingerprinting on {model.device}", total=stale)
            written = refresh(session, model, batch_size, progress=lambda n: bar.advance(task, n))
    console.print(f"fingerprinted {written} of {total} band structures with {model.identifier}")


@app.command()
def generate(
    ctx: typer.Context,
    per_family: Annotated[int, typer.Option("--per-family", min=1, help="Models per lattice family.")] = 40,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same models.")] = 11,
) -> None:
    """Store band structures generated from 2D tight-binding models (not materials).

    Families: honeycomb with a Dirac cone, gapped honeycomb, kagome (flat band), Lieb,
    square and triangular, with random hoppings, on-site energies and Fermi levels. They go
    in under the source 'tight-binding-generated' with provenance 'generated tight-binding',
    with no structure and no material; re-running with the same seed changes nothing. The
    same as 'atlas2d ingest tight-binding-generated' of the spec {"per_family": N, "seed": S}.
    """
    from atlas2d.ingest.pipeline import ingest_streams
    from atlas2d.ingest.sources.tight_binding import ADAPTER, band_records

    label = f"seed {seed}"
    with open_store(settings_of(ctx)) as session, progress() as bar:
        task = bar.add_task("generating band structures", total=None)
        summary = ingest_streams(
            session.get_bind(), ADAPTER, [(label, band_records(per_family, seed, label))], on_batch=lambda n: bar.advance(task, n)
        )
    bands = summary.bands
    console.print(
        f"generated {bands.inserted + bands.updated + bands.unchanged} tight-binding band structures (seed {seed}): "
        f"{bands.inserted} new, {bands.updated} changed, {bands.unchanged} unchanged"
    )
    if summary.quarantined:
        console.print(f"{summary.quarantined} quarantined: {', '.join(summary.reasons)}")


@app.command()
def train(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Where to write the weights (.pt); the record goes beside as .json.")],
    seed: Annotated[int, typer.Option(help="Seed of the generated data, initialisation, shuffling and folds.")] = 7,
    per_family: Annotated[int | None, typer.Option("--per-family", min=2, help="Generated models per family.")] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Passes over the training pictures.")] = None,
    real: Annotated[
        Path | None,
        typer.Option(
            "--real",
            help="Real band structures: a bands-gpaw index.csv (reads the band files) or a .npz written by atlas2d. "
            "Default: the compact copy of bands-gpaw shipped with atlas2d.",
        ),
    ] = None,
    generated_only: Annotated[bool, typer.Option("--generated-only", help="Learn from generated models only (no real set).")] = False,
    use_store: Annotated[bool, typer.Option("--use-store", help="Also learn from the band structures in the store.")] = False,
    cross_validate: Annotated[
        bool,
        typer.Option("--cross-validate", help="Also train one model per fold of the real set and record the cross-validated scores."),
    ] = False,
    device: DeviceOption = "auto",
) -> None:
    """Train the autoencoder and its heads, reproducibly from --seed; the defaults remake the shipped weights.

    Learns from generated tight-binding band structures and the real PBE band structures
    (reconstruction, and band gap / metal from each one's own bands; flat band and lattice
    family on the generated ones), plus the stored ones with --use-store. A third of the
    real materials (a seeded fold) is held out of training. Then measures, and writes into
    the record: neighbour family precision@10 and flat-band accuracy on held-out generated
    models (another seed); the held-out real materials' 5-NN band-gap MAE, metal/insulator
    accuracy and same-prototype precision@5; with --cross-validate the same over every fold,
    one model per fold (three more trainings). The shipped record is
    embeddings/bands/weights/bands_cae.json.
    """
    from atlas2d.embeddings.bands.picture import band_gap, rasterise
    from atlas2d.embeddings.bands.real_set import from_index, load_compact
    from atlas2d.embeddings.bands.training import TrainingSettings, evaluate, save, train_holding_out
    from atlas2d.embeddings.bands.training import cross_validate as cross_validated
    from atlas2d.embeddings.bands.training import train as train_model
    from atlas2d.ingest.band_records import BandDataError
    from atlas2d.ingest.band_store import read_band_structures
    from atlas2d.ingest.sources.tight_binding import generate as generate_models

    real_set = None
    if not generated_only:
        try:
            real_set = load_compact() if real is None else load_compact(real) if real.suffix == ".npz" else from_index(real)
        except (OSError, KeyError, ValueError, BandDataError) as exc:
            fail(f"cannot read the real band structures {real}: {str(exc).splitlines()[0]}")
    stored = []
    if use_store:
        with open_store(settings_of(ctx)) as session:
            stored = [
                (rasterise(b.segments(), b.fermi_level), band_gap(b.segments(), b.fermi_level)) for b in read_band_structures(session)
            ]
    defaults = TrainingSettings()
    settings = TrainingSettings(seed=seed, n_per_family=per_family or defaults.n_per_family, epochs=epochs or defaults.epochs)
    runs = 1 + (settings.real_folds if real_set is not None and cross_validate else 0)
    with progress() as bar:
        task = bar.add_task("training", total=settings.epochs * runs)
        advance = lambda epoch, loss: bar.advance(task)  # noqa: E731 - one progress callback for both paths
        if real_set is None:
            model, record = train_model(settings, None, stored, device, advance)
        else:
            model, record = train_holding_out(settings, real_set, stored, device, advance)
        if real_set is not None and cross_validate:
            bar.update(task, description=f"{settings.real_folds}-fold cross-validation on real materials")
            record["cross_validated_real"] = cross_validated(settings, real_set, device, lambda n: bar.advance(task, settings.epochs))
    record["command"] = (
        f"atlas2d fingerprint train --seed {seed} --per-family {settings.n_per_family} --epochs {settings.epochs} "
        + ("--generated-only " if generated_only else (f"--real {real} " if real else ""))
        + ("--use-store " if use_store else "")
        + ("--cross-validate " if cross_validate else "")
        + f"--device {device} --out {out.name}"
    )
    held_out = generate_models(max(10, settings.n_per_family // 5), seed + 1000)
    record["held_out"] = {"seed": seed + 1000, "band_structures": len(held_out), **evaluate(model, held_out)}
    identifier = save(model, record, out)
    rows = [(k, v) for k, v in record["held_out"].items()]
    for part in ("held_out_real", "cross_validated_real"):
        rows += [(f"{part} {k}", v) for k, v in record.get(part, {}).items() if k != "labels"]
    print_table(["measure", "value"], rows, title=f"trained {identifier}")


@app.command("map")
def fingerprint_map(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="PNG file to write.")],
    colour: Annotated[str, typer.Option("--colour", help="gap, flat-band (predicted from the fingerprint) or family.")] = "flat-band",
    only: Annotated[
        str, typer.Option("--only", help="all, real (band structures of materials) or generated (tight-binding models).")
    ] = "all",
    weights: WeightsOption = None,
) -> None:
    """Draw the stored fingerprints in 2D (PCA), coloured by band gap, flat band or family.

    With --colour family, real band structures are one group ('real material') beside the
    generated models' lattice families.
    """
    if colour not in {"gap", "flat-band", "family"}:
        fail(f"unknown colour {colour!r}: use gap, flat-band or family")
    if only not in {"all", "real", "generated"}:
        fail(f"unknown --only {only!r}: use all, real or generated")
    import numpy as np

    from atlas2d.embeddings.bands.picture import band_gap
    from atlas2d.embeddings.bands.plots import plot_map, project_2d
    from atlas2d.ingest.band_store import read_band_structures
    from atlas2d.ingest.sources.tight_binding import ORIGIN

    with open_store(settings_of(ctx)) as session:
        rows = read_band_structures(session, fingerprinted_only=True)
    if only != "all":
        rows = [r for r in rows if (r.provenance.get("origin") == ORIGIN) == (only == "generated")]
    if len(rows) < 2:
        fail(f"{len(rows)} fingerprinted band structures ({only}); a map needs two (run 'atlas2d fingerprint')")
    vectors = np.stack([r.fingerprint for r in rows])
    if colour == "gap":
        values: list = [band_gap(r.segments(), r.fermi_level) for r in rows]
        label = "band gap (eV)"
    elif colour == "family":
        values = [r.provenance.get("family", "real material") for r in rows]
        label = "family"
    else:
        probability = _load(weights, "cpu").flat_band_probability(vectors)
        values = ["flat band" if p > 0.5 else "no flat band" for p in probability]
        label = "predicted from fingerprint"
    plot_map(project_2d(vectors), values, label, out, f"{len(rows)} band-structure fingerprints (PCA)")
    console.print(f"wrote {out} ({len(rows)} fingerprints, coloured by {colour})")


def similar_bands(
    ctx: typer.Context,
    identifier: Annotated[
        str, typer.Argument(help="Entry id, <source>/<source key>, or a source key such as kagome-s11-00003.")
    ],
    k: Annotated[int, typer.Option("--k", min=1, max=1000, help="How many neighbours.")] = 10,
    method: Annotated[str | None, typer.Option(help="Use the query's band structure of this method.")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also draw the query's bands and its neighbours' to this PNG.")] = None,
    output: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Entries whose band structures are nearest to this entry's, by fingerprint distance (L2)."""
    if output not in {"table", "json"}:
        fail(f"unknown format {output!r}: use table or json")
    from atlas2d.embeddings.bands.search import query_band_structure, similar_by_bands
    from atlas2d.embeddings.search import resolve

    with open_store(settings_of(ctx)) as session:
        try:
            entry_id = resolve(session, identifier)
            neighbours = similar_by_bands(session, entry_id, k, method=method)
            if plot is not None:
                _plot_neighbours(session, query_band_structure(session, entry_id, method), neighbours, plot)
        except LookupError as exc:
            fail(str(exc))
    if output == "json":
        print(json.dumps([asdict(n) for n in neighbours], indent=1, ensure_ascii=False))
    else:
        print_table(
            ["entry", "source", "key", "formula", "method", "family", "distance"],
            [
                (n.entry_id, n.source, n.source_key, n.formula, n.method, n.provenance.get("family"), n.distance)
                for n in neighbours
            ],
            title=f"band structures nearest to entry {entry_id}",
        )
    if plot is not None:
        console.print(f"wrote {plot}")


def _plot_neighbours(session: Session, query, neighbours, out: Path) -> None:  # noqa: ANN001 - ORM row, Neighbour list
    from atlas2d.embeddings.bands.plots import BandPanel, plot_band_panels
    from atlas2d.ingest.band_store import read_band_structures

    ids = [query.id] + [n.band_structure_id for n in neighbours]
    rows = {b.id: b for b in read_band_structures(session, ids)}
    titles = [f"query: {_panel_title(rows[query.id])}"]
    titles += [f"{_panel_title(rows[n.band_structure_id])}  d={n.distance:.3g}" for n in neighbours]
    panels = [BandPanel(title, rows[i].segments(), rows[i].fermi_level) for i, title in zip(ids, titles, strict=True)]
    plot_band_panels(panels, out)


def _panel_title(row) -> str:  # noqa: ANN001 - StoredBands
    """The source key, with the gap when the band file's index gave one (real band structures)."""
    gap = row.provenance.get("gap_eV")
    return row.source_key if gap in (None, "") else f"{row.source_key} ({float(gap):.2f} eV)"
