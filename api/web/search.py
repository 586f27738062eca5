"""The search form as data: what a URL's query string asks for, checked before any SQL runs.

The whole query lives in the URL (``/?elements=Mo,S&gap_pbe_min=1&sort=-gap_pbe&page=2``),
so a search can be shared and the back button returns to it. Every parameter is read as
text and checked here, so a wrong one gets a sentence that says what is wrong (HTTP 400)
instead of a validation dump.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

MAX_PAGE = 1_000_000
"""A larger page number is refused outright (its offset alone would overflow a sane query)."""

PAGE_SIZES = (20, 50, 100)
MAX_TEXT = 4_096
"""Characters allowed in one text parameter (the OPTIMADE filter's own limit)."""

MAX_ELEMENTS = 20


class SearchError(ValueError):
    """A query parameter that cannot be used; the message tells the user which and why."""


@dataclass(frozen=True)
class RangeField:
    """A numeric property a search can bound: which values it reads and how it is shown."""

    key: str
    label: str
    short: str
    property: str
    method: str | None
    unit: str


RANGE_FIELDS: tuple[RangeField, ...] = (
    RangeField("gap_pbe", "band gap PBE", "gap PBE", "band_gap", "PBE", "eV"),
    RangeField("gap_hse06", "band gap HSE06", "gap HSE06", "band_gap", "HSE06", "eV"),
    RangeField("gap_g0w0", "band gap G0W0", "gap G0W0", "band_gap", "G0W0", "eV"),
    RangeField("gap_expt", "band gap, experiment", "gap expt", "band_gap", "expt", "eV"),
    RangeField("formation_energy", "formation energy", "E form", "formation_energy", None, "eV/atom"),
    RangeField("ehull", "energy above hull", "E hull", "energy_above_hull", None, "eV/atom"),
)
"""``method`` None: any method (the table shows the range over methods; the material page
keeps them apart). ``expt`` matches ``expt`` and every ``expt:<technique>``."""

RANGES = {f.key: f for f in RANGE_FIELDS}

SORT_KEYS = ("id", "formula", "entries", "sources", *RANGES)
"""What the table can be sorted by; ``-key`` sorts descending."""


@dataclass(frozen=True)
class Bound:
    """An inclusive range; either end may be open."""

    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class SearchQuery:
    """One search: every criterion is met by some entry of a material (not necessarily the same one)."""

    formula: str = ""
    elements: tuple[str, ...] = ()
    elements_mode: str = "all"
    ranges: dict[str, Bound] = field(default_factory=dict)
    magnetic_state: str = ""
    source: str = ""
    optimade_filter: str = ""
    sort: str = "id"
    page: int = 1
    per_page: int = PAGE_SIZES[0]

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def sort_key(self) -> str:
        return self.sort.removeprefix("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    def params(self) -> dict[str, str]:
        """The query string parameters that give this search back (defaults left out)."""
        out: dict[str, str] = {}
        if self.formula:
            out["formula"] = self.formula
        if self.elements:
            out["elements"] = ",".join(self.elements)
            if self.elements_mode != "all":
                out["elements_mode"] = self.elements_mode
        for key, bound in self.ranges.items():
            if bound.low is not None:
                out[f"{key}_min"] = _number_text(bound.low)
            if bound.high is not None:
                out[f"{key}_max"] = _number_text(bound.high)
        for name, value in (("magnetic_state", self.magnetic_state), ("source", self.source), ("filter", self.optimade_filter)):
            if value:
                out[name] = value
        if self.sort != "id":
            out["sort"] = self.sort
        if self.per_page != PAGE_SIZES[0]:
            out["per_page"] = str(self.per_page)
        if self.page != 1:
            out["page"] = str(self.page)
        return out

    def url(self, **changes: object) -> str:
        """``/?…`` of this search with some fields changed (``page=3``, ``sort="-gap_pbe"``)."""
        query = urlencode(replace(self, **changes).params())  # type: ignore[arg-type]
        return "/?" + query if query else "/"

    def sort_url(self, key: str) -> str:
        """The link of a column header: sort by ``key``, flipping the direction on a second click."""
        return self.url(sort=f"-{key}" if self.sort == key else key, page=1)

    def has_criteria(self) -> bool:
        return bool(self.formula or self.elements or self.ranges or self.magnetic_state or self.source or self.optimade_filter)


def parse_search(params: Mapping[str, str]) -> SearchQuery:
    """The ``SearchQuery`` of a query string; ``SearchError`` names the first bad parameter."""
    for name, value in params.items():
        if len(value) > MAX_TEXT:
            raise SearchError(f"{name} is {len(value)} characters long; the limit is {MAX_TEXT}")
        if "\x00" in value:
            raise SearchError(f"{name} contains a NUL character")
    formula = params.get("formula", "").strip()
    if formula:
        formula = normalised_formula(formula)
    elements = _elements(params.get("elements", ""))
    mode = params.get("elements_mode", "all") or "all"
    if mode not in ("all", "any"):
        raise SearchError(f"elements_mode must be 'all' or 'any', not {mode!r}")
    ranges = {}
    for key in RANGES:
        bound = Bound(_float(params, f"{key}_min"), _float(params, f"{key}_max"))
        if bound.low is not None and bound.high is not None and bound.low > bound.high:
            raise SearchError(f"{RANGES[key].label}: the minimum {bound.low:g} is above the maximum {bound.high:g}")
        if bound != Bound():
            ranges[key] = bound
    sort = params.get("sort", "id") or "id"
    if sort.removeprefix("-") not in SORT_KEYS:
        raise SearchError(f"cannot sort by {sort!r}; choose one of {', '.join(SORT_KEYS)} (with '-' for descending)")
    return SearchQuery(
        formula=formula,
        elements=elements,
        elements_mode=mode,
        ranges=ranges,
        magnetic_state=params.get("magnetic_state", "").strip(),
        source=params.get("source", "").strip(),
        optimade_filter=params.get("filter", "").strip(),
        sort=sort,
        page=_whole(params, "page", 1, MAX_PAGE),
        per_page=_page_size(params),
    )


def normalised_formula(text: str) -> str:
    """``S2Mo`` -> ``MoS2``: the store's reduced formula (alphabetical, GCD-reduced)."""
    from atlas2d.ingest.harmonize import HarmonizationError, parse_formula, reduced_formula

    try:
        return reduced_formula(parse_formula(text))
    except (HarmonizationError, ValueError) as exc:
        raise SearchError(f"formula {text!r} is not a chemical formula (try MoS2)") from exc


def _elements(text: str) -> tuple[str, ...]:
    from atlas2d.ingest.harmonize import HarmonizationError, check_element

    symbols = [s.strip() for s in text.replace(" ", ",").split(",") if s.strip()]
    if len(symbols) > MAX_ELEMENTS:
        raise SearchError(f"{len(symbols)} elements given; the limit is {MAX_ELEMENTS}")
    for symbol in symbols:
        try:
            check_element(symbol)
        except HarmonizationError:
            raise SearchError(f"{symbol!r} is not a chemical element (symbols are case-sensitive: Mo, S)") from None
    return tuple(dict.fromkeys(symbols))


def _float(params: Mapping[str, str], name: str) -> float | None:
    text = params.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise SearchError(f"{name} must be a number, not {text!r}") from None
    if not math.isfinite(value):
        raise SearchError(f"{name} must be a finite number, not {text!r}")
    return value


def _whole(params: Mapping[str, str], name: str, default: int, largest: int) -> int:
    text = params.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= largest:
        raise SearchError(f"{name} must be a whole number from 1 to {largest:,}, not {text[:40]!r}")
    return int(text)


def _page_size(params: Mapping[str, str]) -> int:
    text = params.get("per_page", "").strip()
    if not text:
        return PAGE_SIZES[0]
    if text not in {str(n) for n in PAGE_SIZES}:
        raise SearchError(f"per_page must be one of {', '.join(map(str, PAGE_SIZES))}, not {text[:40]!r}")
    return int(text)


def _number_text(value: float) -> str:
    return f"{value:.15g}"
