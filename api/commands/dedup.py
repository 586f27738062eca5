"""``atlas2d dedup``: merge duplicate entries into materials, explain, report and override."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from atlas2d.api.console import console, fail, print_table, progress
from atlas2d.api.store_access import open_store, settings_of
from atlas2d.schema.settings import Settings

DEFAULT_TOLERANCE = 0.2
"""Å; equals ``atlas2d.embeddings.structure.candidates.DEFAULT_TOLERANCE`` (repeated so ``--help`` needs no torch import)."""

app = typer.Typer(
    name="dedup",
    invoke_without_command=True,
    no_args_is_help=False,
    help=(
        "Merge entries that describe the same monolayer into one material, by isometry "
        "invariants of the 2D-periodic structure (AMD/PDD): candidates are nearest AMD vectors "
        "in PostgreSQL (same reduced formula), confirmed when the Earth Mover's distance between "
        "their PDDs is within --tolerance. Curator overrides ('atlas2d dedup override') win. "
        "Safe to re-run: invariants are cached; when only new structures arrived since the last run "
        "(same tolerance, neighbours and overrides), only they are paired and joined to the stored "
        "clusters, with the result a full run gives; --full recomputes every cluster."
    ),
)


@app.callback()
def dedup(
    ctx: typer.Context,
    tolerance: Annotated[
        float, typer.Option(help="Largest PDD Earth Mover's distance (Å) of a duplicate; 0.2 was chosen by measurement.")
    ] = DEFAULT_TOLERANCE,
    neighbours: Annotated[int, typer.Option(help="AMD nearest neighbours per structure taken as candidates.")] = 10,
    device: Annotated[str, typer.Option(help="Where invariants are computed: auto (GPU if present), cpu or cuda.")] = "auto",
    explain: Annotated[
        int | None, typer.Option("--explain", metavar="ENTRY_ID", help="Only show why this entry is in its material.")
    ] = None,
    report: Annotated[bool, typer.Option("--report", help="Only list materials whose entries come from several sources.")] = False,
    include_same_source: Annotated[
        bool, typer.Option("--all", help="With --report: also list duplicates within one source.")
    ] = False,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="With --report: also write one row per entry to this CSV file.")] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Recompute every cluster, even when only new structures arrived since the last run.")
    ] = False,
) -> None:
    """Deduplicate (default), or --explain an entry, or --report the duplicates found."""
    if ctx.invoked_subcommand is not None:
        return
    if csv_path is not None and not report:
        fail("--csv goes with --report")
    if explain is not None and report:
        fail("use either --explain or --report, not both")
    if not tolerance >= 0:
        fail(f"--tolerance must be a non-negative number of Å, not {tolerance}")
    if neighbours < 1:
        fail(f"--neighbours must be at least 1, not {neighbours}")
    if device not in {"auto", "cpu", "cuda"}:
        fail(f"unknown device {device!r}: use auto, cpu or cuda")
    with open_store(settings_of(ctx)) as session:
        if explain is not None:
            _explain(session, explain, tolerance)
        elif report:
            _report(session, include_same_source, csv_path)
        else:
            _run(session, tolerance, neighbours, device, full)


@app.command()
def override(
    ctx: typer.Context,
    action: Annotated[str, typer.Argument(help="split (never merge these two) or join (always merge them).")],
    entry_a: Annotated[int, typer.Argument(help="Entry id.")],
    entry_b: Annotated[int, typer.Argument(help="The other entry id.")],
    note: Annotated[str | None, typer.Option(help="Why (kept with the decision).")] = None,
) -> None:
    """Record a curator's decision that two entries must (join) or must not (split) be one material.

    The decision replaces any earlier one for the same pair and applies from the next
    'atlas2d dedup' on, whatever the invariants say.
    """
    from atlas2d.embeddings.structure.overrides import set_override

    with open_store(settings_of(ctx)) as session:
        try:
            set_override(session, entry_a, entry_b, action, note)
        except (ValueError, LookupError) as exc:
            fail(str(exc))
    console.print(f"recorded: {action} entries {entry_a} and {entry_b}; run 'atlas2d dedup' to apply")


def deduplicate_and_report(settings: Settings) -> None:
    """Deduplicate with the default tolerances and list the cross-source duplicates (the demo's step)."""
    with open_store(settings) as session:
        _run(session, DEFAULT_TOLERANCE, 10, "auto", False)
        _report(session, False, None)


def _run(session: Session, tolerance: float, neighbours: int, device: str, full: bool) -> None:
    from atlas2d.embeddings.structure.dedup import run_dedup
    from atlas2d.embeddings.structure.refresh import count_stale
    from atlas2d.schema.database import vacuum_for_reads

    stale = count_stale(session).stale
    with progress() as bar:
        task = bar.add_task("invariants", total=stale)
        summary = run_dedup(session, tolerance, neighbours, device, progress=lambda n: bar.advance(task, n), full=full)
    if summary.incremental:
        console.print(f"incremental: {summary.new_structures} new structures joined to the stored clusters")
        scope = [
            ("old structures whose nearest a new one entered", summary.reverse_neighbours),
            ("stored pairs no longer candidates", summary.dropped_pairs),
            ("structures re-clustered", summary.reclustered),
        ]
        examined = "new "
    else:
        console.print(f"full: every cluster recomputed ({summary.full_because})")
        scope = []
        examined = ""
    session.commit()  # no snapshot of ours may hold VACUUM back
    vacuum_for_reads(session.get_bind())  # dedup rewrote structure and entry rows: OPTIMADE counts need the visibility map again
    print_table(
        ["what", "count"],
        [
            ("structures", summary.structures),
            ("invariants computed", summary.computed),
            *scope,
            (f"{examined}candidate pairs (AMD kNN, same formula)", summary.candidates),
            (f"{examined}confirmed (PDD EMD <= {tolerance:g} Å)", summary.confirmed),
            ("merges recorded", summary.merges),
            ("merges refused by split overrides" + (" (re-clustered part)" if summary.incremental else ""), summary.refused_by_split),
            ("materials", summary.materials),
            ("materials with duplicates", summary.duplicate_clusters),
            ("materials across sources", summary.cross_source_clusters),
            ("entries without a structure linked by rule", summary.linked_without_structure),
            ("entries without a structure on their own", summary.own_without_structure),
        ],
        title="Deduplication",
    )
    console.print(f"invariants {summary.invariants_s:.1f} s; pairs, clusters, materials and evidence {summary.clustering_s:.1f} s")


def _explain(session: Session, entry_id: int, tolerance: float) -> None:
    from atlas2d.embeddings.structure.explain import explain
    from atlas2d.ingest.linking import RULE

    try:
        found = explain(session, entry_id, tolerance=tolerance)
    except LookupError as exc:
        fail(str(exc))
    console.print(f"entry {entry_id} is in material {found.material_id} with {len(found.members)} entries")
    print_table(["entry", "source", "source key", "formula"], found.members, title="Members")
    if found.links:
        title = "Members without a structure: how they got this material"
        print_table(["entry", "source", "source key", "rule or reason"], found.links, title=title)
        console.print(f"linking rule: {RULE}")
    if found.evidence:
        print_table(["entry a", "entry b", "distance (Å)", "rule"], found.evidence, title="Merge evidence")
    else:
        console.print("no merge evidence: nothing was merged with this entry")
    if found.overrides:
        print_table(["entry a", "entry b", "action", "note"], found.overrides, title="Curator overrides")
    print_table(
        ["entry", "source", "source key", "formula", "AMD distance", "PDD EMD (Å)", "same material", "why"],
        [
            (c.entry_id, c.source, c.source_key, c.formula, c.amd_distance, c.pdd_distance, "yes" if c.merged else "no", c.reason)
            for c in found.candidates
        ],
        title="Nearest structures",
    )


def _report(session: Session, include_same_source: bool, csv_path: Path | None) -> None:
    from atlas2d.embeddings.structure.explain import report

    rows = report(session, include_same_source)
    print_table(
        ["material", "formula", "sources", "entries", "max EMD (Å)"],
        [
            (r.material_id, r.formula, ", ".join(r.sources), "; ".join(f"{s}:{k} (#{e})" for e, s, k in r.entries), r.max_distance)
            for r in rows
        ],
        title="Duplicates across sources" if not include_same_source else "Duplicates",
    )
    if csv_path is not None:
        try:
            with csv_path.open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["material_id", "chemical_formula_reduced", "entry_id", "source", "source_key", "max_emd_angstrom"])
                for r in rows:
                    distance = "" if r.max_distance is None else f"{r.max_distance:.6f}"
                    for entry, source, key in r.entries:
                        writer.writerow([r.material_id, r.formula, entry, source, key, distance])
        except OSError as exc:
            fail(f"cannot write {csv_path}: {exc.strerror}")
        console.print(f"wrote {sum(len(r.entries) for r in rows)} entries of {len(rows)} materials to {csv_path}")
