"""The registry of similarity searches, and the one way to name the entry a search starts from.

``atlas2d similar --by NAME`` and ``/v1/extensions/similar?by=NAME`` both look the search up
here and resolve the query with ``resolve``, so a search registered in ``SEARCHES`` answers
through both with the same rows (``Neighbour``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas2d.embeddings.bands.search import similar_by_bands
from atlas2d.embeddings.neighbour import Search, SearchError
from atlas2d.embeddings.structure.search import similar_by_structure
from atlas2d.schema.models import Entry, Source

SEARCHES: dict[str, Search] = {"structure": similar_by_structure, "bands": similar_by_bands}
"""Search name -> search: ``structure`` by AMD vectors (Å), ``bands`` by band-structure fingerprints."""

ALIASES = {"structures": "structure"}
"""Other spellings still accepted: ``structures`` is the name the HTTP extension first used."""


def search_named(name: str) -> Search:
    """The search registered as ``name`` (or an alias of it); ``ValueError`` names the choices."""
    found = SEARCHES.get(ALIASES.get(name, name))
    if found is None:
        raise ValueError(f"unknown similarity {name!r}: use {', '.join(SEARCHES)}")
    return found


def resolve(session: Session, identifier: str) -> int:
    """The entry id that ``identifier`` names: an entry id, ``<source>/<source key>``, or a source key alone.

    An entry id is returned as it is (the search says if no such entry exists); a source key
    alone must name one entry. Source keys may themselves contain ``/``, so a
    ``<source>/<source key>`` that matches nothing is also tried as a bare source key.
    """
    if identifier.isdigit():
        return int(identifier)
    source, slash, key = identifier.partition("/")
    if slash:
        found = session.execute(
            select(Entry.id).join(Source).where(Source.name == source, Entry.source_key == key)
        ).scalar_one_or_none()
        if found is not None:
            return found
    ids = session.execute(select(Entry.id).where(Entry.source_key == identifier).limit(2)).scalars().all()
    if not ids:
        raise SearchError(f"no entry with id or source key {identifier!r}")
    if len(ids) > 1:
        raise SearchError(f"source key {identifier!r} exists in several sources; use <source>/{identifier} or the entry id")
    return ids[0]
