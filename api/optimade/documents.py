"""The entry routes' JSON:API documents, built as plain Python objects and encoded once.

The reference handlers (``get_entries`` / ``get_single_entry``) build, per request, a
``ResponseMeta`` model (which validates the provider and implementation models again), a
``ToplevelLinks`` model, and dump them. Under load that is CPU every request pays for a
result known at start-up. Here the parts of ``meta`` that never change are dumped once per
configuration, with the reference model and its options, into a template; a request fills in
its own values (query, counts, time stamp) and the document is encoded by pydantic-core in
one pass. The ``next`` link is checked by the same URL type the reference model uses, so it
is written the same way. The handlers' logic (parameter checks, ``find``, included
references, response fields) is the reference's, in the same order, so errors and warnings
are the same too (included entries are read by id rather than through a filter).
``tests/optimade/test_documents.py`` compares the documents field by field with what the
reference models produce.
"""

from __future__ import annotations

import re
import urllib.parse
from datetime import datetime
from typing import Any

from fastapi import Request
from optimade import __api_version__
from optimade.exceptions import BadRequest, InternalServerError
from optimade.models import ResponseMeta, ResponseMetaQuery
from optimade.server.config import ServerConfig
from optimade.server.entry_collections import EntryCollection
from optimade.server.query_params import EntryListingQueryParams, SingleEntryQueryParams
from optimade.server.routers.utils import get_base_url, handle_response_fields
from pydantic import AnyUrl, TypeAdapter

_URL = TypeAdapter(AnyUrl)
_VERSIONED_PATH = re.compile(r"/v[0-9]+(\.[0-9]+){,2}/.*")
_VERSION_PREFIX = re.compile(r"/v[0-9]+(\.[0-9]+){,2}/")


def listing(collection: EntryCollection, request: Request, params: EntryListingQueryParams) -> dict[str, Any]:
    """The document of an entry listing (``/structures?filter=…``), as ``get_entries`` writes it."""
    config: ServerConfig = request.app.state.config
    params.check_params(request.query_params, request.app.state.base_resource_mapper)
    results, data_returned, more_data_available, fields, include_fields = collection.find(params)
    included = _included(results, request, params)
    next_link = None
    if more_data_available:
        query = urllib.parse.parse_qs(request.url.query)
        query.update(collection.get_next_query_params(params, results))
        base = urllib.parse.urlparse(get_base_url(config, request.url))
        url = f"{base.scheme}://{base.netloc}{request.url.path}?{urllib.parse.urlencode(query, doseq=True)}"
        next_link = str(_URL.validate_python(url))
    if results is not None and (fields or include_fields):
        results = handle_response_fields(results, fields, include_fields)
    return {
        "links": {"next": next_link},
        "data": results if results else [],
        "meta": meta(config, request, data_returned, len(collection), more_data_available),
        "included": included,
    }


def single(collection: EntryCollection, request: Request, entry_id: str, params: SingleEntryQueryParams) -> dict[str, Any]:
    """The document of one entry (``/structures/ID``), as ``get_single_entry`` writes it."""
    config: ServerConfig = request.app.state.config
    params.check_params(request.query_params, request.app.state.base_resource_mapper)
    params.filter = f'id="{entry_id}"'  # type: ignore[attr-defined]
    results, data_returned, more_data_available, fields, include_fields = collection.find(params)
    if more_data_available:
        raise InternalServerError(
            detail=f"more_data_available MUST be False for single entry response, however it is {more_data_available}"
        )
    included = _included(results, request, params)
    if results is not None and (fields or include_fields):
        results = handle_response_fields(results, fields, include_fields)[0]
    return {
        "links": {"next": None},
        "data": results if results else None,
        "meta": meta(config, request, data_returned, len(collection), more_data_available),
        "included": included,
    }


def _included(results: Any, request: Request, params: EntryListingQueryParams | SingleEntryQueryParams) -> list[Any]:
    """The related entries ``include`` asks for, as ``get_included_relationships`` lists them.

    Same checks, same order (entry types as the collections are listed, entries in their
    collection's order); the entries are read by id (``PostgresCollection.by_ids``) instead
    of through a filter the reference builds, parses and translates on every page.
    """
    collections = request.app.state.entry_collections
    include = params.include.split(",") if getattr(params, "include", False) else []
    for entry_type in include:
        if entry_type not in collections and entry_type != "":
            raise BadRequest(
                detail=f"'{entry_type}' cannot be identified as a valid relationship type. "
                f"Known relationship types: {sorted(collections.keys())}"
            )
    if not include or results is None:
        return []
    wanted: dict[str, dict[str, None]] = {}
    for entry in results if isinstance(results, list) else [results]:
        relationships = entry.get("relationships") if entry is not None else None
        for entry_type in collections:
            if entry_type not in include or not relationships:
                continue
            for reference in (relationships.get(entry_type) or {}).get("data", []):
                wanted.setdefault(entry_type, {})[reference["id"]] = None
    return [entry for entry_type, ids in wanted.items() for entry in collections[entry_type].by_ids(list(ids))]


def meta(config: ServerConfig, request: Request, data_returned: int | None, data_available: int, more: bool) -> dict[str, Any]:
    """``meta`` as ``meta_values`` would write it: the constant part from the template, the rest per request."""
    url = request.url
    path = _VERSION_PREFIX.sub("/", url.path) if _VERSIONED_PATH.match(url.path) else url.path
    document = dict(_meta_template(config))
    document["query"] = {"representation": f"{path}?{url.query}"}
    document["time_stamp"] = datetime.now()
    document["data_returned"] = data_returned
    document["more_data_available"] = more
    document["data_available"] = data_available
    return document


_TEMPLATES: dict[int, tuple[ServerConfig, dict[str, Any]]] = {}


def _meta_template(config: ServerConfig) -> dict[str, Any]:
    """The ``ResponseMeta`` of ``config`` dumped once as the reference routes dump it; its
    per-request members hold placeholders that ``meta`` replaces (keeping their order).

    Kept by the configuration's identity (configurations are mutable, so not hashable); the
    configuration is held with it, so its identity cannot be reused.
    """
    known = _TEMPLATES.get(id(config))
    if known is not None and known[0] is config:
        return known[1]
    extra = {"request_delay": min(config.request_delay, 10.0)} if config.request_delay else {}
    model = ResponseMeta(
        query=ResponseMetaQuery(representation="/"),
        api_version=__api_version__,
        time_stamp=datetime.now(),
        data_returned=0,
        more_data_available=False,
        provider=config.provider,
        data_available=0,
        implementation=config.implementation,
        schema=config.schema_url if not config.is_index else config.index_schema_url,
        **extra,
    )
    template = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    _TEMPLATES[id(config)] = (config, template)
    return template
