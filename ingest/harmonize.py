"""Source values into atlas2d values: numbers checked, units converted, rules applied.

What the words mean (property names, their units, methods, unit spellings) is in
``atlas2d.ingest.vocabulary``; this module only applies it to one field at a time, so every
adapter reads a number, a unit and a missing field the same way.
"""

from __future__ import annotations

import math

from atlas2d.ingest.records import HarmonizationError, Value
from atlas2d.ingest.vocabulary import PROPERTIES, UNIT_SPELLINGS, check_method


def number(raw: object, field: str) -> float | None:
    """A source field as a float: ``None`` when absent or empty (unknown), else finite or an error.

    Booleans are refused too: ``true`` in a gap field is a broken record, not 1 eV.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        raise HarmonizationError(f"{field} is not a number: {raw!r}")
    try:
        result = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise HarmonizationError(f"{field} is not a number: {raw!r}") from exc
    if not math.isfinite(result):
        raise HarmonizationError(f"{field} is not finite: {raw!r}")
    return result


def value(
    name: str,
    raw: object,
    method: str,
    source_field: str,
    unit: str | None = None,
    **extra: object,
) -> Value | None:
    """A harmonized ``Value`` of vocabulary property ``name`` read from ``source_field``.

    ``unit`` is the source's unit (default: the vocabulary's); the number is converted into
    the vocabulary's unit. Returns ``None`` when the field is absent, so a missing property
    never becomes a row.
    """
    rule = PROPERTIES.get(name)
    if rule is None:
        raise HarmonizationError(f"unknown property {name!r} (vocabulary: {', '.join(PROPERTIES)})")
    check_method(method)
    if rule.unit is None:
        if raw is None or raw == "":
            return None
        return Value(name=name, value=None, unit=None, method=method, source_field=source_field, value_text=str(raw), **extra)  # type: ignore[arg-type]
    amount = number(raw, source_field)
    if amount is None:
        return None
    given = unit or rule.unit
    if given not in UNIT_SPELLINGS or UNIT_SPELLINGS[given][0] != rule.unit:
        raise HarmonizationError(f"{source_field}: unit {given!r} cannot be converted to {rule.unit!r} for {name}")
    amount *= UNIT_SPELLINGS[given][1]
    if rule.non_negative and amount < 0:
        raise HarmonizationError(f"{source_field} is negative: {amount}")
    return Value(name=name, value=amount, unit=rule.unit, method=method, source_field=source_field, **extra)  # type: ignore[arg-type]


def band_gap_type(gap: float | None, direct_gap: float | None, method: str, source_field: str) -> Value | None:
    """``direct`` or ``indirect`` from the fundamental and the direct gap (metals: none)."""
    if gap is None or direct_gap is None or gap <= 0:
        return None
    check_method(method)
    kind = "direct" if abs(direct_gap - gap) < 1e-3 else "indirect"
    return Value(name="band_gap_type", value=None, unit=None, method=method, source_field=source_field, value_text=kind)
