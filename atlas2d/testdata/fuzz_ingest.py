"""A seeded corpus of hostile source files for ``atlas2d ingest``, and the account of what became of every record.

Every file format atlas2d reads (MC2D v4, campi-v2 and Discover; C2DB ASE rows and web
table; 2DMatPedia lines; the experimental CSV; OPTIMADE responses) gets files built from the
real bundled samples (``atlas2d.ingest.samples``) with hostile records among good ones:
ids of 10,000 characters, ids that are numbers or missing, records nested 300 and 5,000
levels deep, lone surrogates and NUL characters, integers beyond 64 bits, gaps of 1e308,
1e400, NaN, -1 and 31 eV, coordinates of 1e308 Å, 10,000 Å outside the cell or NaN, the
"element" D, records that are not objects, CSV fields over the parser's 131,072-character
limit, techniques longer than the method column, ``layers=1e30``, space groups of 1e30. Whole
files are hostile too: empty, random bytes, a UTF-8 byte-order mark, invalid UTF-8, nesting
5,000 levels deep, truncated mid-record, C2DB rows under non-numeric keys, OPTIMADE documents
whose ``meta`` is a list, whose ``meta.provider`` is a string or whose prefix holds NUL,
3D-periodic bulk crystals. Some files must still be stored whole (a BOM, a 3D cell that is a
slab, species named ``Mo1``/``Mo2``). The same ``seed`` and ``size`` give the same files.

``account`` then checks the store: each record given must be stored or quarantined (a
quarantine row for a whole file covers all its records, one for a damaged tail of a JSON
list every record from its index on), each good record stored under its key, and no hostile
record stored.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from atlas2d.ingest.formulas import parse_formula, reduced_formula
from atlas2d.ingest.samples import SAMPLES
from atlas2d.schema.models import Entry, Quarantine, Source

DEEP_5000 = "@@fuzz-deep-5000@@"
INFINITE = "@@fuzz-1e400@@"
"""Placeholders written into JSON text as what ``json.dumps`` cannot write (5,000 levels, 1e400)."""

TAIL_MARK = "every later one"
"""Words of the quarantine reason of a damaged JSON-list tail (``atlas2d.ingest.sources.common``)."""


@dataclass
class FuzzFile:
    """One file of the corpus and what must become of its records."""

    source: str
    name: str
    data: bytes
    given: int
    """Records the file holds (the file itself counts as one when it cannot hold any record)."""
    good_keys: list[str] = field(default_factory=list)
    """Source keys that must be stored."""
    hostile_keys: list[str] = field(default_factory=list)
    """Source keys of hostile records, which must not be stored."""
    cases: list[str] = field(default_factory=list)


@dataclass
class Account:
    """What became of the corpus: the figures ``benchmarks/ingest_fuzz.py`` reports and the test asserts."""

    files: int = 0
    given: int = 0
    stored: int = 0
    quarantine_rows: int = 0
    lost: int = 0
    good_missing: int = 0
    hostile_stored: int = 0
    reader_bugs: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class Kind:
    """One file format: how to get a good record, change its parts and write a file of records."""

    name: str
    source: str
    suffix: str
    base: Callable[[int], Any]
    get_key: Callable[[Any], Any]
    set_key: Callable[[Any, Any], None]
    set_gap: Callable[[Any, Any], None] | None
    set_note: Callable[[Any, Any], None]
    encode: Callable[[list[Any]], str]
    set_coordinate: Callable[[Any, Any], None] | None = None
    set_element: Callable[[Any, str], None] | None = None
    set_formula: Callable[[Any, str], None] | None = None
    streaming: bool = True
    """Whether a record that cannot be parsed spares the records before it (lists, lines, CSV)."""
    csv: bool = False


def _samples(relative: str) -> Any:
    return json.loads((SAMPLES / relative).read_text(encoding="utf-8"))


def _dumps(records: Any) -> str:
    text = json.dumps(records, allow_nan=True)
    text = text.replace(f'"{DEEP_5000}"', "[" * 5000 + "]" * 5000)
    return text.replace(f'"{INFINITE}"', "1e400")


def _mc2d_kind() -> Kind:
    items = _samples("mc2d/mc2d_v4_structures_sample.json")

    def coordinate(record: dict[str, Any], x: Any) -> None:
        record["atomic_positions"][0][1] = x

    def element(record: dict[str, Any], symbol: str) -> None:
        record["atomic_positions"][0][4] = symbol

    return Kind(
        "mc2d-v4", "mc2d", ".json", lambda i: copy.deepcopy(items[i % 40]),
        lambda r: r.get("structure_label"), lambda r, k: r.__setitem__("structure_label", k),
        lambda r, v: r.__setitem__("band_gap", v), lambda r, v: r.__setitem__("fuzz_note", v), _dumps,
        set_coordinate=coordinate, set_element=element,
    )


def _campi_kind() -> Kind:
    items = _samples("mc2d/mc2d_campi_v2_structure_2d_sample.json")
    return Kind(
        "mc2d-campi", "mc2d", ".json", lambda i: copy.deepcopy(items[i % 40]),
        lambda r: r.get("as_extracted_2D_structure_uuid"), lambda r, k: r.__setitem__("as_extracted_2D_structure_uuid", k),
        lambda r, v: r.__setitem__("band_gap", {"value": v}), lambda r, v: r.__setitem__("fuzz_note", v), _dumps,
        set_formula=lambda r, f: r.__setitem__("formula", f),
    )


def _discover_kind() -> Kind:
    document = _samples("mc2d/mc2d_discover_compounds_sample.json")

    def encode(records: list[Any]) -> str:
        return _dumps({"compounds": records, "observables": document["observables"]})

    return Kind(
        "mc2d-discover", "mc2d", ".json", lambda i: copy.deepcopy(document["compounds"][i % len(document["compounds"])]),
        lambda r: r.get("structure_2D"), lambda r, k: r.__setitem__("structure_2D", k),
        lambda r, v: r.__setitem__("band_gap", {"value": v}), lambda r, v: r.__setitem__("fuzz_note", v), encode,
        set_formula=lambda r, f: r.__setitem__("formula", f), streaming=False,
    )


def _c2db_rows_kind() -> Kind:
    row = _samples("c2db/MoS2-165798ab5e18.structure.json")["1"]

    def base(_i: int) -> dict[str, Any]:
        record = copy.deepcopy(row)
        record["key_value_pairs"] = {"gap": 1.6}
        return record

    def encode(records: list[Any]) -> str:
        document: dict[str, Any] = {}
        for i, record in enumerate(records, start=1):
            key = record.pop("fuzz_row_key", str(i)) if isinstance(record, dict) else str(i)
            document[key] = record
        document["ids"] = list(range(1, len(records) + 1))
        document["nextid"] = len(records) + 1
        return _dumps(document)

    def coordinate(record: dict[str, Any], x: Any) -> None:
        record["positions"]["__ndarray__"][2][0] = x

    return Kind(
        "c2db-rows", "c2db", ".json", base,
        lambda r: r.get("unique_id"), lambda r, k: r.__setitem__("unique_id", k),
        lambda r, v: r["key_value_pairs"].__setitem__("gap", v), lambda r, v: r.__setitem__("fuzz_note", v), encode,
        set_coordinate=coordinate, streaming=False,
    )


def _twodmatpedia_kind() -> Kind:
    lines = (SAMPLES / "2dmatpedia" / "2dmatpedia_sample.jsonl").read_text(encoding="utf-8").splitlines()

    def coordinate(record: dict[str, Any], x: Any) -> None:
        record["structure"]["sites"][0]["abc"][0] = x

    def element(record: dict[str, Any], symbol: str) -> None:
        record["structure"]["sites"][0]["species"][0]["element"] = symbol

    return Kind(
        "2dmatpedia", "2dmatpedia", ".jsonl", lambda i: json.loads(lines[i % 40]),
        lambda r: r.get("material_id"), lambda r, k: r.__setitem__("material_id", k),
        lambda r, v: r.__setitem__("bandgap", v), lambda r, v: r.__setitem__("fuzz_note", v),
        lambda records: "".join(_dumps(r) + "\n" for r in records),
        set_coordinate=coordinate, set_element=element,
    )


def _optimade_kind() -> Kind:
    items = _samples("mc2d/mc2d_v4_structures_sample.json")

    def base(i: int) -> dict[str, Any]:
        item = items[i % 40]
        symbols = sorted({site[4] for site in item["atomic_positions"]})
        return {
            "id": "", "type": "structures",
            "attributes": {
                "lattice_vectors": [row[1:] for row in item["cell"][:2]] + [None],
                "cartesian_site_positions": [site[1:4] for site in item["atomic_positions"]],
                "species_at_sites": [site[4] for site in item["atomic_positions"]],
                "species": [{"name": s, "chemical_symbols": [s], "concentration": [1.0]} for s in symbols],
                "dimension_types": [1, 1, 0], "last_modified": "2024-01-01T00:00:00Z", "immutable_id": f"fuzz-{i}",
            },
        }

    def coordinate(record: dict[str, Any], x: Any) -> None:
        record["attributes"]["cartesian_site_positions"][0][0] = x

    def element(record: dict[str, Any], symbol: str) -> None:
        record["attributes"]["species_at_sites"][0] = symbol
        record["attributes"]["species"].append({"name": symbol, "chemical_symbols": [symbol], "concentration": [1.0]})

    def encode(records: list[Any]) -> str:
        return _dumps({"data": records, "meta": {"provider": {"prefix": "fuzz", "name": "fuzz corpus"}}})

    return Kind(
        "optimade", "optimade", ".json", base,
        lambda r: f"fuzz:{r['id']}" if isinstance(r.get("id"), str) else None, lambda r, k: r.__setitem__("id", k),
        None, lambda r, v: r["attributes"].__setitem__("fuzz_note", v),
        encode, set_coordinate=coordinate, set_element=element, streaming=False,
    )


def _csv_text(header: list[str], records: list[Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for record in records:
        writer.writerow(record if isinstance(record, list) else [record.get(h, "") for h in header])
    return out.getvalue()


def _experimental_kind() -> Kind:
    text = (SAMPLES / "experimental" / "experimental_2d_monolayers.csv").read_text(encoding="utf-8")
    header, *rows = list(csv.reader(io.StringIO(text)))
    good = [dict(zip(header, row, strict=True)) for row in rows]
    good = [row for row in good if row["property"] in ("optical_gap", "band_gap")]

    def key(record: dict[str, Any]) -> str:
        layers = str(int(float(record["layers"]))) if record["layers"] else ""
        formula = reduced_formula(parse_formula(record["formula"]))
        return "|".join((formula, record["prototype"], layers, record["property"], record["method"], record["doi"]))

    def set_key(record: dict[str, Any], value: Any) -> None:
        record["doi"] = value

    return Kind(
        "experimental", "experimental", ".csv", lambda i: dict(good[i % len(good)]), key, set_key,
        lambda r, v: r.__setitem__("value", v), lambda r, v: r.__setitem__("note", v),
        lambda records: _csv_text(header, records), set_formula=lambda r, f: r.__setitem__("formula", f), csv=True,
    )


def _c2db_table_kind() -> Kind:
    text = (SAMPLES / "c2db" / "c2db_web_table_sample.csv").read_text(encoding="utf-8")
    header, *rows = list(csv.reader(io.StringIO(text)))
    titles = [h.replace("✕", "").strip() for h in header]
    good = [dict(zip(titles, row, strict=True)) for row in rows]

    def encode(records: list[Any]) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for record in records:
            writer.writerow(record if isinstance(record, list) else [record.get(t, "") for t in titles])
        return out.getvalue()

    return Kind(
        "c2db-table", "c2db", ".csv", lambda i: dict(good[i % len(good)]),
        lambda r: r.get("Unique identifier"), lambda r, k: r.__setitem__("Unique identifier", k),
        lambda r, v: r.__setitem__("Band gap", v), lambda r, v: r.__setitem__("Crystal type", v), encode,
        set_formula=lambda r, f: r.__setitem__("Formula", f), csv=True, streaming=True,
    )


def kinds() -> list[Kind]:
    """Every file format atlas2d reads, with its real sample records."""
    return [
        _mc2d_kind(), _campi_kind(), _discover_kind(), _c2db_rows_kind(), _c2db_table_kind(),
        _twodmatpedia_kind(), _experimental_kind(), _optimade_kind(),
    ]


def _nested(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


@dataclass(frozen=True)
class Case:
    """A hostile change to one record: ``apply`` returns whether the record's key is still its own."""

    name: str
    apply: Callable[[Kind, Any, random.Random], bool]
    applies: Callable[[Kind], bool] = lambda kind: True
    last: bool = False
    """The record spoils what follows it (a parser failure): it goes last, alone in whole-document formats."""
    either: bool = False
    """Damage the reader may repair (invalid UTF-8 becomes U+FFFD): stored or quarantined, both fine."""


def _keyed(change: Callable[[Kind, Any, random.Random], None]) -> Callable[[Kind, Any, random.Random], bool]:
    def apply(kind: Kind, record: Any, rng: random.Random) -> bool:
        change(kind, record, rng)
        return True

    return apply


def _rekeyed(new_key: Callable[[Any], Any]) -> Callable[[Kind, Any, random.Random], bool]:
    def apply(kind: Kind, record: Any, rng: random.Random) -> bool:
        kind.set_key(record, new_key(kind.get_key(record)))
        return False

    return apply


def _is_json(kind: Kind) -> bool:
    return not kind.csv


def _has_gap(kind: Kind) -> bool:
    return kind.set_gap is not None


def _gap(value: Any) -> Callable[[Kind, Any, random.Random], bool]:
    def change(kind: Kind, record: Any, rng: random.Random) -> None:
        assert kind.set_gap is not None
        kind.set_gap(record, value)

    return _keyed(change)


def _has_structure(kind: Kind) -> bool:
    return kind.set_coordinate is not None


def _has_symbols(kind: Kind) -> bool:
    return kind.set_element is not None


def _has_formula(kind: Kind) -> bool:
    return kind.set_formula is not None


def _named(name: str) -> Callable[[Kind], bool]:
    return lambda kind: kind.name == name


def _big_integers_refused(kind: Kind) -> bool:
    return _is_json(kind) and kind.name not in ORJSON_KINDS


ORJSON_KINDS = frozenset({"2dmatpedia", "mc2d-discover"})
"""Formats read with orjson, which reads an integer beyond 64 bits as a float (so it is stored as one)."""


RECORD_CASES: tuple[Case, ...] = (
    Case("id of 10,000 characters", _rekeyed(lambda key: "k" * 10_000)),
    Case("id with a lone surrogate", _rekeyed(lambda key: f"{key}\ud800")),
    Case("id with NUL", _rekeyed(lambda key: f"{key}\x00")),
    Case("id is a number", _rekeyed(lambda key: 12345), applies=_is_json),
    Case("id missing", _rekeyed(lambda key: None), applies=_is_json),
    Case("record nested 300 deep", _keyed(lambda kind, r, rng: kind.set_note(r, _nested(300))), applies=_is_json),
    Case("record nested 5,000 deep", _keyed(lambda kind, r, rng: kind.set_note(r, DEEP_5000)), applies=_is_json, last=True),
    Case("lone surrogate in a field", _keyed(lambda kind, r, rng: kind.set_note(r, "bad \ud800 text")), applies=_is_json),
    Case("NUL in a field", _keyed(lambda kind, r, rng: kind.set_note(r, "a\x00b"))),
    Case("integer beyond 64 bits", _keyed(lambda kind, r, rng: kind.set_note(r, 2**70)), applies=_big_integers_refused),
    Case("NaN in a field", _keyed(lambda kind, r, rng: kind.set_note(r, float("nan"))), applies=_is_json),
    Case("1e400 in a field", _keyed(lambda kind, r, rng: kind.set_note(r, INFINITE)), applies=_is_json),
    Case("gap 1e308 eV", _gap(1e308), applies=_has_gap),
    Case("gap 1e400 (infinite)", _gap(INFINITE), applies=lambda k: _has_gap(k) and _is_json(k)),
    Case("gap NaN", _gap(float("nan")), applies=_has_gap),
    Case("gap -1 eV", _gap(-1.0), applies=_has_gap),
    Case("gap 31 eV", _gap(31.0), applies=_has_gap),
    Case("gap is text", _gap("abc"), applies=_has_gap),
    Case("gap is a boolean", _gap(True), applies=lambda k: _has_gap(k) and _is_json(k)),
    Case("coordinate 1e308 Å", _keyed(lambda kind, r, rng: kind.set_coordinate(r, 1e308)), applies=_has_structure),
    Case("coordinate 10,000 Å outside", _keyed(lambda kind, r, rng: kind.set_coordinate(r, 1e4)), applies=_has_structure),
    Case("coordinate NaN", _keyed(lambda kind, r, rng: kind.set_coordinate(r, float("nan"))), applies=_has_structure),
    Case("element D", _keyed(lambda kind, r, rng: kind.set_element(r, "D")), applies=_has_symbols),
    Case("element Xx", _keyed(lambda kind, r, rng: kind.set_element(r, "Xx")), applies=_has_symbols),
    Case("formula D2O", _keyed(lambda kind, r, rng: kind.set_formula(r, "D2O")), applies=_has_formula),
    Case("CSV field of 200,000 characters", _keyed(lambda kind, r, rng: kind.set_note(r, "x" * 200_000)), applies=lambda k: k.csv),
    Case("technique of 100 characters", _keyed(lambda kind, r, rng: r.__setitem__("method", "t" * 100)), applies=_named("experimental")),
    Case("layers 1e30", _keyed(lambda kind, r, rng: r.__setitem__("layers", "1e30")), applies=_named("experimental")),
    Case("space group 1e30", _keyed(lambda kind, r, rng: r.__setitem__("space_group", "1e30")), applies=_named("experimental")),
    Case("table space group 1e30", _keyed(lambda kind, r, rng: r.__setitem__("Space group number", "1e30")), applies=_named("c2db-table")),
)
"""Hostile records, each applied to a real good record of every format it fits."""

NOT_RECORDS = ([1, 2], "a string", 42, None, True)
"""Items that are not records at all (JSON formats)."""


@dataclass
class _Builder:
    rng: random.Random
    serial: int = 0
    files: list[FuzzFile] = field(default_factory=list)

    def key(self, kind: Kind) -> str:
        self.serial += 1
        prefix = {"c2db-table": "Fz", "experimental": "10.9999/fuzz"}.get(kind.name, "fuzz")
        return f"{prefix}-{self.serial:06d}"

    def good(self, kind: Kind) -> tuple[Any, str]:
        record = kind.base(self.rng.randrange(1000))
        kind.set_key(record, self.key(kind))
        return record, str(kind.get_key(record))

    def add(
        self, kind: Kind, name: str, text: str | bytes, given: int, good: Iterable[str], hostile: Iterable[str], cases: list[str]
    ) -> None:
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        file_name = f"fuzz18-{len(self.files):05d}-{kind.name}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}{kind.suffix}"
        self.files.append(FuzzFile(kind.source, file_name, data, given, list(good), list(hostile), cases))

    def mixed(self, kind: Kind, case: Case) -> None:
        """Good records around one hostile one (before it only when the hostile one spoils what follows)."""
        before = [self.good(kind) for _ in range(self.rng.randint(1, 2))]
        after = [] if case.last else [self.good(kind) for _ in range(self.rng.randint(0, 1))]
        if case.last and not kind.streaming:
            before = []
        hostile, key = self.good(kind)
        kept = case.apply(kind, hostile, self.rng)
        records = [r for r, _ in before] + [hostile] + [r for r, _ in after]
        good = [k for _, k in before + after]
        hostile_keys = [] if not kept or case.either else [key]
        self.add(kind, case.name, kind.encode(records), len(records), good, hostile_keys, [case.name])

    def not_record(self, kind: Kind, item: Any) -> None:
        before = [self.good(kind) for _ in range(2)]
        records = [r for r, _ in before] + [item]
        self.add(kind, f"item {type(item).__name__}", kind.encode(records), 3, [k for _, k in before], [], ["item that is not a record"])

    def whole_files(self, kind: Kind) -> None:
        """Hostile files: empty, random bytes, a BOM (records kept), invalid UTF-8, 5,000 levels, truncated."""
        self.add(kind, "empty file", b"", 0, [], [], ["empty file"])
        noise = bytes(self.rng.randrange(256) for _ in range(self.rng.randint(10, 400)))
        self.add(kind, "random bytes", noise, 1, [], [], ["random bytes"])
        records = [self.good(kind) for _ in range(3)]
        self.add(kind, "utf-8 bom", "\ufeff" + kind.encode([r for r, _ in records]), 3, [k for _, k in records], [], ["UTF-8 BOM"])
        records = [self.good(kind) for _ in range(3)]
        text = kind.encode([r for r, _ in records]).encode("utf-8")
        middle = len(text) // 2
        self.add(kind, "invalid utf-8", text[:middle] + b"\xff\xfe\xed\xa0\x80" + text[middle:], 3, [], [], ["invalid UTF-8"])
        if not kind.csv:
            self.add(kind, "file nested 5000 deep", "[" * 5000 + "]" * 5000, 1, [], [], ["file nested 5,000 deep"])
        records = [self.good(kind) for _ in range(4)]
        parts = [kind.encode([r for r, _ in records[:i]]) for i in range(5)]
        whole = parts[4]
        cut = len(parts[2]) + (len(parts[3]) - len(parts[2])) // 2 if kind.streaming else len(whole) // 2
        if kind.name in ("mc2d-v4", "mc2d-campi"):
            cut = len(parts[3]) - 60
            kept = 2
        else:
            kept = 2 if kind.streaming else 0
        given = 4 if kind.name != "2dmatpedia" and not kind.csv else 3
        self.add(kind, "truncated", whole[:cut], given, [k for _, k in records[:kept]], [], ["truncated mid-record"])

    def c2db_rows(self, kind: Kind) -> None:
        """Rows under keys that are not ASE row ids: quarantined, not skipped."""
        rows = [self.good(kind) for _ in range(4)]
        for record, name in zip((rows[2][0], rows[3][0]), ("abc", "\u00b2"), strict=True):
            record["fuzz_row_key"] = name
        self.add(kind, "non numeric row keys", kind.encode([r for r, _ in rows]), 4, [rows[0][1], rows[1][1]], [rows[2][1], rows[3][1]],
                 ["C2DB rows under non-numeric keys"])

    def optimade(self, kind: Kind) -> None:
        """Documents the provider context spoils, 3D cells (bulk refused, slab kept), species names, references."""
        for case, meta in (
            ("meta is a list", [1, 2]),
            ("meta.provider is a string", {"provider": "fuzz"}),
            ("NUL in the provider prefix", {"provider": {"prefix": "fu\x00zz"}}),
            ("upper-case provider prefix", {"provider": {"prefix": "FUZZ"}}),
        ):
            records = [self.good(kind) for _ in range(2)]
            text = _dumps({"data": [r for r, _ in records], "meta": meta})
            self.add(kind, case, text, 2, [], [], [case])
        bulk, bulk_key = self.good(kind)
        attributes = bulk["attributes"]
        attributes["dimension_types"] = [1, 1, 1]
        positions = attributes["cartesian_site_positions"]
        heights = [p[2] for p in positions]
        thickness = max(heights) - min(heights)
        attributes["lattice_vectors"][2] = [0.0, 0.0, thickness + 3.0]
        slab, slab_key = self.good(kind)
        slab["attributes"]["dimension_types"] = [1, 1, 1]
        slab["attributes"]["lattice_vectors"][2] = [0.0, 0.0, thickness + 15.0]
        self.add(kind, "3d bulk and 3d slab", kind.encode([bulk, slab]), 2, [slab_key], [bulk_key], ["3D bulk crystal", "3D slab"])
        named, named_key = self.good(kind)
        attributes = named["attributes"]
        first = attributes["species_at_sites"][0]
        names = [f"{s}{i % 2 + 1}" if s == first else s for i, s in enumerate(attributes["species_at_sites"])]
        attributes["species_at_sites"] = names
        attributes["species"] = [
            {"name": n, "chemical_symbols": [re.sub(r"\d", "", n)], "concentration": [1.0]} for n in sorted(set(names))
        ]
        named["relationships"] = {"references": {"data": [{"type": "references", "id": "fuzz-ref"}]}}
        document = {
            "data": [named], "meta": {"provider": {"prefix": "fuzz"}},
            "included": [{"type": "references", "id": "fuzz-ref", "attributes": {"doi": "10.9999/fuzz"}}],
        }
        cases = ["species names Mo1/Mo2", "included references"]
        self.add(kind, "species names and references", _dumps(document), 1, [named_key], [], cases)


def ingest_corpus(seed: int = 18, size: int = 1000) -> list[FuzzFile]:
    """Hostile files over every format, every case at least once, until they hold ``size`` records."""
    rng = random.Random(seed)
    builder = _Builder(rng)
    all_kinds = kinds()
    pairs = [(kind, case) for kind in all_kinds for case in RECORD_CASES if case.applies(kind)]
    for kind, case in pairs:
        builder.mixed(kind, case)
    for kind in all_kinds:
        builder.whole_files(kind)
        if not kind.csv:
            for item in NOT_RECORDS:
                builder.not_record(kind, item)
    builder.c2db_rows(next(k for k in all_kinds if k.name == "c2db-rows"))
    builder.optimade(next(k for k in all_kinds if k.name == "optimade"))
    while sum(f.given for f in builder.files) < size:
        kind, case = rng.choice(pairs)
        builder.mixed(kind, case)
    return builder.files


def clean_corpus(seed: int = 18, size: int = 1000) -> list[FuzzFile]:
    """The peer of ``ingest_corpus``: about ``size`` good records, one file per format, nothing hostile."""
    builder = _Builder(random.Random(seed))
    all_kinds = kinds()
    for kind in all_kinds:
        records = [builder.good(kind) for _ in range(max(size // len(all_kinds), 1))]
        builder.add(kind, "clean", kind.encode([r for r, _ in records]), len(records), [k for _, k in records], [], ["clean"])
    return builder.files


def write_corpus(files: list[FuzzFile], folder: Path) -> dict[str, list[Path]]:
    """Write the files into ``folder``; the paths of each source, for one ``atlas2d ingest`` run each."""
    folder.mkdir(parents=True, exist_ok=True)
    by_source: dict[str, list[Path]] = {}
    for item in files:
        path = folder / item.name
        path.write_bytes(item.data)
        by_source.setdefault(item.source, []).append(path)
    return by_source


def _covers(row_locator: str, reason: str, item: FuzzFile) -> int:
    """How many of a file's records one quarantine row accounts for."""
    if row_locator == item.name:
        return item.given
    tail = re.fullmatch(re.escape(item.name) + r"\[(\d+)\]", row_locator)
    if tail and TAIL_MARK in reason:
        return max(item.given - int(tail[1]), 1)
    return 1


def account(engine: Engine, files: list[FuzzFile]) -> Account:
    """What became of every record of ``files`` in the store behind ``engine``."""
    result = Account(files=len(files))
    with Session(engine) as session:
        per_file: Counter[tuple[str, str]] = Counter()
        keys: set[tuple[str, str]] = set()
        for source, source_file, key in session.execute(
            select(Source.name, Entry.source_file, Entry.source_key).join(Source, Source.id == Entry.source_id)
        ):
            per_file[(source, source_file)] += 1
            keys.add((source, key))
        rows: dict[str, list[tuple[str, str]]] = {}
        for source_file, locator, reason in session.execute(select(Quarantine.source_file, Quarantine.locator, Quarantine.reason)):
            rows.setdefault(source_file, []).append((locator, reason))
    for item in files:
        in_file = per_file[(item.source, item.name)]
        quarantined = rows.get(item.name, [])
        covered = in_file + sum(_covers(locator, reason, item) for locator, reason in quarantined)
        result.given += item.given
        result.stored += in_file
        result.quarantine_rows += len(quarantined)
        bugs = [reason for _, reason in quarantined if "an adapter bug" in reason]
        result.reader_bugs += len(bugs)
        lost = max(item.given - covered, 0)
        missing = [k for k in item.good_keys if (item.source, k) not in keys]
        accepted = [k for k in item.hostile_keys if (item.source, k) in keys]
        result.lost += lost
        result.good_missing += len(missing)
        result.hostile_stored += len(accepted)
        if lost or missing or accepted or bugs:
            result.problems.append(
                f"{item.name} ({', '.join(item.cases)}): lost {lost}, good missing {missing}, hostile stored {accepted}, bugs {bugs}"
            )
    return result
