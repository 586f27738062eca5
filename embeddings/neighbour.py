"""What every similarity search answers with: one ``Neighbour`` type, one error, one signature.

The structure search (AMD vectors) and the band search (fingerprints) return the same rows,
so the CLI (``atlas2d similar``) and HTTP (``/v1/extensions/similar``) print and serialise
them with one piece of code each, whichever search ran. The registry of searches is
``atlas2d.embeddings.search``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session


class SearchError(LookupError):
    """The query cannot be answered: no such entry, or it has no vector yet; the message says which."""


@dataclass(frozen=True)
class Neighbour:
    """An entry near the query, how far its vector is, and what it is.

    ``band_structure_id``, ``method`` and ``provenance`` describe the band structure that
    matched when the search compares band structures; a structure search leaves them empty.
    """

    entry_id: int
    material_id: int | None
    source: str
    source_key: str
    formula: str
    distance: float
    band_structure_id: int | None = None
    method: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The OPTIMADE-style entry id, ``<source>/<source key>``."""
        return f"{self.source}/{self.source_key}"


class Search(Protocol):
    """A similarity search: the ``k`` neighbours of entry ``ref`` (of material ``ref`` with ``by_material``), nearest first.

    Raises ``SearchError`` when ``ref`` does not exist or has no vector, ``ValueError`` when k < 1.
    """

    def __call__(self, session: Session, ref: int, k: int = 10, by_material: bool = False) -> list[Neighbour]: ...
