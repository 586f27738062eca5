"""What every adapter does the same way: turn failures into ``Rejected``, build records.

An adapter must never raise on a bad record (a run over 6,000 records should not stop at
the first broken one), so each record is built inside ``attempt``; whatever goes wrong
becomes the quarantine reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
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
) -> Record:
    """A ``Record`` of a layer already validated and in the 2D convention."""
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
    """Payload text for quarantine: JSON when it can be, ``repr`` otherwise."""
    try:
        return json.dumps(payload, default=str, allow_nan=True)
    except (TypeError, ValueError):
        return repr(payload)


def read_json_array(path: Path, build: Callable[[Any, str], Record]) -> Iterator[Record | Rejected]:
    """``build(item, locator)`` for every item of the JSON list in ``path``, each inside ``attempt``.

    A syntax error mid-list keeps the items before it and quarantines the damaged tail; a file
    that is no JSON list at all is one ``Rejected``. Locators are ``<file>[<index>]``.
    """
    text = path.read_text(encoding="utf-8", errors="replace")
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
    character) it yields ``(index, ValueError)`` whose message names the position, and
    stops, because nothing after a syntax error can be located reliably.
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
            yield index, ValueError(f"JSON syntax error at character {exc.pos}: {exc.msg}; the rest of the file is unreadable")
            return
        yield index, item
        index += 1
        position = _skip_space(text, position)
        if position < len(text) and text[position] == ",":
            position = _skip_space(text, position + 1)
            continue
        if position < len(text) and text[position] == "]":
            return
        yield index, ValueError(f"JSON syntax error at character {position}: expected ',' or ']' (truncated file?)")
        return


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position
