"""The lean entry documents (``atlas2d.api.optimade.documents``) are the reference's, field by field.

Two references: the reference routes themselves (the same app with atlas2d's entry routes
left out: ``get_entries`` / ``get_single_entry``, FastAPI's ``response_model`` validation and
encoding), and the reference response models, which must accept each lean document and dump
it back unchanged. Every member is compared with its type (``1`` is not ``1.0``); only
``meta.time_stamp`` differs between two responses.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from optimade.models import (
    LinksResponse,
    ReferenceResponseMany,
    ReferenceResponseOne,
    StructureResponseMany,
    StructureResponseOne,
)
from pydantic import BaseModel
from starlette.testclient import TestClient

from atlas2d.api.optimade import routes
from atlas2d.api.optimade.app import create_app

REQUESTS = [
    ("/v1/structures", {}),
    ("/v1/structures", {"filter": 'elements HAS ANY "Mo","W"', "page_limit": "3"}),
    ("/v1/structures", {"filter": "nsites >= 3", "page_limit": "4", "page_offset": "2", "sort": "-nsites,id"}),
    ("/v1/structures", {"filter": "_atlas2d_band_gap > 0.5", "response_fields": "_atlas2d_band_gap,_atlas2d_band_gap_method"}),
    ("/v1/structures", {"response_fields": "nsites,space_group_it_number,_atlas2d_nothing", "page_limit": "2"}),
    ("/v1/structures", {"filter": "_atlas2d_band_gap IS UNKNOWN", "page_number": "2", "page_limit": "5"}),
    ("/v1/structures", {"include": "references", "page_limit": "1"}),
    ("/v1/structures", {"include": "", "page_limit": "1"}),
    ("/v1/structures", {"include": "links,references", "page_limit": "2"}),
    ("/v1/structures", {"include": "nonsense"}),
    ("/v1/structures", {"page_above": "3", "page_limit": "1"}),
    ("/v1/structures", {"filter": "_other_provider_field = 1"}),
    ("/v1/structures", {"filter": 'chemical_formula_reduced = "Nope"'}),
    ("/v1/structures", {"filter": "nelements >"}),
    ("/v1.2/structures", {"page_limit": "1", "unknown_parameter": "x"}),
    ("/structures", {"page_limit": "2", "response_format": "json"}),
    ("/v1/structures/nowhere/0", {}),
    ("/v1/references", {}),
    ("/v1/references", {"response_fields": "title"}),
    ("/v1/references/poscar2d-copy", {}),
    ("/v1/links", {}),
]

MODELS: dict[tuple[str, bool], type[BaseModel]] = {
    ("structures", False): StructureResponseMany,
    ("structures", True): StructureResponseOne,
    ("references", False): ReferenceResponseMany,
    ("references", True): ReferenceResponseOne,
    ("links", False): LinksResponse,
}


def differences(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Every member where ``ours`` and ``theirs`` differ, in value or JSON type, by its path."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found = []
        for key in sorted(set(ours) | set(theirs)):
            where = f"{path}.{key}" if path else key
            if where == "meta.time_stamp":
                continue
            if key not in ours or key not in theirs:
                found.append(f"{where}: only in {'theirs' if key not in ours else 'ours'}")
            else:
                found += differences(ours[key], theirs[key], where)
        return found
    if isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            return [f"{path}: {len(ours)} items, reference {len(theirs)}"]
        return [d for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) for d in differences(a, b, f"{path}[{i}]")]
    if type(ours) is not type(theirs) or ours != theirs:
        return [f"{path}: {ours!r} != reference {theirs!r}"]
    return []


def test_differences_sees_values_types_and_missing_members() -> None:
    document = {"meta": {"time_stamp": "a", "data_returned": 1}, "data": [{"attributes": {"x": 1.0}}]}
    assert differences(document, json.loads(json.dumps(document))) == []
    assert differences(document, {**document, "meta": {"time_stamp": "b", "data_returned": 1}}) == []
    changed = {"meta": {"time_stamp": "a", "data_returned": 1.0}, "data": [{"attributes": {"x": 1.0, "y": None}}]}
    assert differences(document, changed) == ["data[0].attributes.y: only in theirs", "meta.data_returned: 1 != reference 1.0"]


@pytest.fixture(scope="module")
def clients(store: tuple[str, Any]) -> tuple[TestClient, TestClient]:
    """The atlas2d app, and the same app with the reference entry routes answering."""
    url = store[0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(routes, "serve_entries_first", lambda app: None)
        reference = create_app(url)
    return TestClient(create_app(url)), TestClient(reference)


def _requests(store: tuple[str, Any]) -> list[tuple[str, dict[str, str]]]:
    some = sorted(store[1])[:2]
    return [*REQUESTS, *((f"/v1/structures/{entry}", {}) for entry in some), (f"/v1/structures/{some[0]}", {"response_fields": "nsites"})]


def test_lean_documents_equal_the_reference_routes_field_by_field(
    clients: tuple[TestClient, TestClient], store: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, reference = clients
    lean = []
    original = routes._json  # noqa: SLF001 - wrapped to see that the lean routes, not the reference ones, answered
    monkeypatch.setattr(routes, "_json", lambda document: lean.append(1) or original(document))
    for path, params in _requests(store):
        mine, theirs = ours.get(path, params=params), reference.get(path, params=params)
        assert mine.status_code == theirs.status_code, (path, params, mine.text[:300])
        assert mine.headers["content-type"] == theirs.headers["content-type"], (path, params)
        assert differences(mine.json(), theirs.json()) == [], (path, params)
    assert len(lean) >= 15, "the reference routes answered instead of the lean ones"


def test_lean_documents_are_what_the_reference_models_write(clients: tuple[TestClient, TestClient], store: tuple[str, Any]) -> None:
    ours = clients[0]
    checked = 0
    for path, params in _requests(store):
        response = ours.get(path, params=params)
        if response.status_code != 200:
            continue
        parts = path.strip("/").split("/")
        entry_type = parts[1] if parts[0].startswith("v") else parts[0]
        single = len(parts) > (2 if parts[0].startswith("v") else 1)
        document = response.json()
        model = MODELS[(entry_type, single)].model_validate(document)
        assert differences(document, model.model_dump(mode="json", by_alias=True, exclude_unset=True)) == [], (path, params)
        checked += 1
    assert checked >= 15
