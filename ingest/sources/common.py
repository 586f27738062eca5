"""What every adapter does the same way: turn failures into ``Rejected``, build records.

An adapter must never raise on a bad record (a run over 6,000 records should not stop at
the first broken one), so each record is built inside ``attempt``; whatever goes wrong
becomes the quarantine reason.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson

from atlas2d.ingest.formulas import reduced_formula
from atlas2d.ingest.records import HarmonizationError, Layer, Record, Rejected, Value

JSON_ERROR_CONTEXT = 2000
"""Characters of a broken JSON tail kept as the quarantine payload."""

Built = TypeVar("Built")


def attempt(locator: str, payload: Callable[[], str], build: Callable[[], Built]) -> Built | Rejected:
    """``build()``, or a ``Rejected`` carrying the reason when it fails for any reason."""
    try:
        return build()
    except HarmonizationError as exc:
        return Rejected(locator=locator, reason=str(exc), payload=payload())
    except Exception as exc:  # noqa: BLE001 - a bad record must never stop the run
        return Rejected(locator=locator, reason=f"{type(exc).__name__}: {exc}", payload=payload())


def structure_record(
    key: object,
    layer: Layer,
    raw: dict[str, Any],
    values: list[Value | None],
    locator: str,
    prototype: str | None = None,
    strict_json: bool = False,
    site_names: tuple[str, ...] | None = None,
    species: list[dict[str, Any]] | None = None,
) -> Record:
    """A ``Record`` of a layer already validated and in the 2D convention (``site_names`` and
    ``species``: the source's own, see ``Record``)."""
    if not isinstance(key, str) or not key.strip():
        raise HarmonizationError(f"missing or empty source id: {key!r}")
    check_storable(raw, strict_json)
    return Record(
        source_key=key.strip(),
        chemical_formula_reduced=reduced_formula(layer.counts()),
        raw=raw,
        layer=layer,
        values=[v for v in values if v is not None],
        locator=locator,
        prototype=prototype,
        site_names=site_names,
        species=species,
    )


def check_storable(raw: dict[str, Any], strict_json: bool = False) -> None:
    """Refuse raw records PostgreSQL's JSONB cannot hold (NaN, Infinity, NUL characters).

    ``strict_json``: ``raw`` came from a strict parser (orjson refuses NaN and Infinity), so
    only NUL characters need looking for, which is much cheaper than re-encoding.
    """
    if strict_json:
        if b"\\u0000" in orjson.dumps(raw):
            raise HarmonizationError("raw record holds a NUL character, which JSONB cannot store")
        return
    try:
        text = json.dumps(raw, allow_nan=False)
    except ValueError as exc:
        raise HarmonizationError(f"raw record holds a non-JSON number (NaN or Infinity): {exc}") from exc
    if "\\u0000" in text:
        raise HarmonizationError("raw record holds a NUL character, which JSONB cannot store")


def dumps(payload: object) -> str:
    """Payload text for quarantine: JSON when it can be, ``repr`` otherwise, a note when neither can
    (a payload nested thousands of levels deep exhausts the recursion of both)."""
    try:
        return json.dumps(payload, default=str, allow_nan=True)
    except (TypeError, ValueError):
        pass
    except RecursionError:
        return f"<a {type(payload).__name__} nested too deeply to write out>"
    try:
        return repr(payload)
    except Exception as exc:  # noqa: BLE001 - the quarantine row must be written whatever the payload is
        return f"<a {type(payload).__name__} that cannot be written out: {type(exc).__name__}>"


def required_text(item: dict[str, Any], field: str) -> str:
    """``item[field]`` as a non-empty string, or ``HarmonizationError`` saying it is missing or not text."""
    text = item.get(field)
    if not isinstance(text, str) or not text.strip():
        raise HarmonizationError(f"missing {field}" if text in (None, "") else f"{field} is not text: {text!r}")
    return text


def read_text(path: Path) -> str:
    """A source file's text: UTF-8 with or without a byte-order mark (spreadsheet exports write one);
    bytes that are not UTF-8 become U+FFFD, so the damage shows in the record that holds them."""
    return path.read_text(encoding="utf-8-sig", errors="replace")


def csv_rows(text: str) -> Iterator[tuple[int, list[str] | csv.Error]]:
    """``(line, fields)`` of every CSV row, or ``(line, csv.Error)`` for a row the parser refuses
    (a field over the parser's 131,072-character limit, a NUL), after which reading goes on."""
    reader = csv.reader(io.StringIO(text))
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, exc
            continue
        yield reader.line_num, fields


def read_csv_records(
    path: Path,
    required: Sequence[str],
    build: Callable[[list[str], list[str], str], Record],
    titles: Callable[[str], str] = str,
) -> Iterator[Record | Rejected]:
    """``build(header, fields, locator)`` for every non-blank row of a CSV file, each inside ``attempt``.

    The header's cells pass through ``titles`` (as written by default) and must name every ``required`` column, or the
    file is one ``Rejected``; a row the CSV parser refuses is quarantined and reading goes on.
    A payload is the row's line as written. Locators are ``<file>:<line>``.
    """
    text = read_text(path)
    lines = text.splitlines()
    rows = csv_rows(text)
    first = next(rows, None)
    if first is None or isinstance(first[1], Exception):
        reason = "empty file" if first is None else f"unreadable header: {first[1]}"
        yield Rejected(locator=path.name, reason=reason, payload=lines[0][:20000] if lines else "")
        return
    header = [titles(cell) for cell in first[1]]
    missing = [c for c in required if c not in header]
    if missing:
        yield Rejected(locator=f"{path.name}:1", reason=f"header lacks columns {missing}", payload=lines[0][:20000] if lines else "")
        return
    for line, fields in rows:
        locator = f"{path.name}:{line}"
        payload = lines[line - 1][:20000] if line - 1 < len(lines) else ""
        if isinstance(fields, Exception):
            yield Rejected(locator=locator, reason=f"unreadable CSV row: {fields}", payload=payload)
            continue
        if not any(f.strip() for f in fields):
            continue
        payload = payload or ",".join(fields)[:20000]
        yield attempt(locator, lambda payload=payload: payload, lambda fields=fields, locator=locator: build(header, fields, locator))


def read_json_array(path: Path, build: Callable[[Any, str], Record]) -> Iterator[Record | Rejected]:
    """``build(item, locator)`` for every item of the JSON list in ``path``, each inside ``attempt``.

    A syntax error mid-list keeps the items before it and quarantines the damaged tail (one
    row at the index where the damage starts, naming the character); a file that is no JSON
    list at all is one ``Rejected``. Locators are ``<file>[<index>]``.
    """
    try:
        text = read_text(path)
    except OSError as exc:
        yield Rejected(locator=path.name, reason=f"unreadable file: {exc}", payload="")
        return
    try:
        for index, item in iter_json_array(text):
            locator = f"{path.name}[{index}]"
            if isinstance(item, ValueError):
                yield Rejected(locator=locator, reason=str(item), payload=text[-JSON_ERROR_CONTEXT:])
                continue
            yield attempt(locator, lambda item=item: dumps(item), lambda item=item, locator=locator: build(item, locator))
    except ValueError as exc:
        yield Rejected(locator=path.name, reason=str(exc), payload=text[:JSON_ERROR_CONTEXT])


def iter_json_array(text: str) -> Iterator[tuple[int, object]]:
    """Items of a JSON array one by one, so a damaged tail loses only what is damaged.

    Yields ``(index, item)``; when an item cannot be decoded (a truncated file, a stray
    character, nesting deeper than the parser's recursion) it yields ``(index, ValueError)``
    whose message names the position, and stops, because nothing after a syntax error can
    be located reliably.
    """
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if position >= len(text) or text[position] != "[":
        raise ValueError("not a JSON array: the file does not start with '['")
    position = _skip_space(text, position + 1)
    index = 0
    if position < len(text) and text[position] == "]":
        return
    while True:
        try:
            item, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            yield index, ValueError(
                f"JSON syntax error at character {exc.pos}: {exc.msg}; this item and every later one are unreadable"
            )
            return
        except RecursionError:
            yield index, ValueError(
                f"JSON nested too deeply at character {position}: this item and every later one are unreadable"
            )
            return
        yield index, item
        index += 1
        position = _skip_space(text, position)
        if position < len(text) and text[position] == ",":
            position = _skip_space(text, position + 1)
            continue
        if position < len(text) and text[position] == "]":
            return
        yield index, ValueError(
            f"JSON syntax error at character {position}: expected ',' or ']' (truncated?); this item and every later one are unreadable"
        )
        return


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position
