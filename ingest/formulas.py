"""Chemical formulas as OPTIMADE writes them, and the check that an element is real.

Reduced: elements alphabetical, counts divided by their GCD, 1 omitted (``MoS2``,
``ILaO``). Anonymous: A, B, C… by decreasing reduced count (``A2B``). Dedup, the OPTIMADE
API and experimental values all meet on the reduced formula, so there is one writer of it.
"""

from __future__ import annotations

import math
import re
import string
from functools import reduce

from atlas2d.ingest.limits import check_symbol
from atlas2d.ingest.records import HarmonizationError

SYMBOL = re.compile(r"[A-Z][a-z]?")
"""An element symbol in a formula, checked as written: pymatgen reads the isotope D as H."""


def reduced_formula(counts: dict[str, float]) -> str:
    """OPTIMADE ``chemical_formula_reduced``: alphabetical, GCD-reduced, 1 omitted."""
    ints = _integer_counts(counts)
    divisor = reduce(math.gcd, ints.values())
    return "".join(f"{el}{n // divisor if n // divisor != 1 else ''}" for el, n in sorted(ints.items()))


def anonymous_formula(counts: dict[str, float]) -> str:
    """OPTIMADE ``chemical_formula_anonymous``: A, B, C… by decreasing reduced count."""
    ints = _integer_counts(counts)
    divisor = reduce(math.gcd, ints.values())
    reduced = sorted((n // divisor for n in ints.values()), reverse=True)
    return "".join(f"{_anonymous_symbol(i)}{n if n != 1 else ''}" for i, n in enumerate(reduced))


def parse_formula(formula: str) -> dict[str, float]:
    """Element counts of a formula string; raises for unknown elements."""
    from pymatgen.core import Composition

    for symbol in SYMBOL.findall(formula):
        check_element(symbol)
    try:
        composition = Composition(formula)
    except Exception as exc:
        raise HarmonizationError(f"unparseable formula {formula!r}: {exc}") from exc
    counts = {str(el): amount for el, amount in composition.get_el_amt_dict().items()}
    for symbol in counts:
        check_element(symbol)
    if not counts:
        raise HarmonizationError(f"empty formula {formula!r}")
    return counts


def check_element(symbol: str) -> None:
    """Raise unless ``symbol`` is a real chemical element (no isotope such as D, no dummy species)."""
    check_symbol(symbol)


def _integer_counts(counts: dict[str, float]) -> dict[str, int]:
    ints = {el: int(round(n)) for el, n in counts.items()}
    if any(n <= 0 or abs(ints[el] - n) > 1e-6 for el, n in counts.items()):
        raise HarmonizationError(f"non-integer or non-positive composition {counts}")
    return ints


def _anonymous_symbol(index: int) -> str:
    letters = string.ascii_uppercase
    if index < len(letters):
        return letters[index]
    return letters[index // len(letters) - 1] + letters[index % len(letters)].lower()
