"""Rendering: the Jinja2 environment, its filters, and the error page.

Templates are autoescaped, so every value from the store is escaped where it is shown. Data
for the page's scripts goes into ``<script type="application/json">`` blocks through
``script_json``, which escapes ``<``, ``>`` and ``&`` inside the JSON so that no stored text
can close the block.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy import Engine
from starlette.responses import Response

from atlas2d.api.web.queries import FingerprintMap, StructureInfo


def script_json(value: Any) -> Markup:  # noqa: ANN401 - any JSON-able value
    """``value`` as JSON that is safe inside a ``<script>`` element."""
    encoded = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return Markup(encoded.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def number(value: float | None, digits: int = 4) -> str:
    """A value for people: ``digits`` significant digits, no trailing noise; empty when unknown."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.{digits}g}"


def value_range(pair: tuple[float, float] | None, digits: int = 3) -> str:
    """``1.2`` or ``1.2 – 1.5`` for the several values of one material."""
    if pair is None:
        return ""
    low, high = pair
    if number(low, digits) == number(high, digits):
        return number(low, digits)
    return f"{number(low, digits)} – {number(high, digits)}"


def pretty_json(value: Any) -> str:  # noqa: ANN401 - any JSON value
    """Indented JSON of a stored record (the template escapes it)."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def lattice(structure: StructureInfo) -> dict[str, float]:
    """In-plane lengths a, b (Å), the angle γ between them, and the out-of-plane length c."""
    vectors = np.asarray(structure.lattice_vectors, dtype=float)
    a, b, c = (float(np.linalg.norm(v)) for v in vectors)
    gamma = float(np.degrees(np.arccos(np.clip(vectors[0] @ vectors[1] / (a * b), -1.0, 1.0))))
    return {"a": a, "b": b, "gamma": gamma, "c": c}


class Pages:
    """The templates and the read-only engine every route renders with."""

    def __init__(self, engine: Engine, templates: Path) -> None:
        self.engine = engine
        self.fingerprint_map: FingerprintMap | None = None
        """The last computed map (PCA of every fingerprint), reused while the band structures are unchanged."""
        self.templates = Jinja2Templates(directory=templates)
        self.templates.env.filters.update(num=number, span=value_range, script_json=script_json, pretty_json=pretty_json)
        self.templates.env.globals.update(lattice=lattice, band_json=lambda bands: [b.plot_json() for b in bands])

    def render(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def error(self, request: Request, status: int, title: str, message: str, **context: Any) -> Response:  # noqa: ANN401
        """A page that says what went wrong and where to go next, with the right status code."""
        return self.render(request, "error.html", {"status": status, "title": title, "message": message, **context}, status)
