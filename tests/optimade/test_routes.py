"""atlas2d's entry routes write the same documents as the reference routes they shadow."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from atlas2d.api.optimade import routes
from atlas2d.api.optimade.app import create_app

REQUESTS = [
    ("/v1/structures", {}),
    ("/v1/structures", {"filter": 'elements HAS ALL "Mo","S"'}),
    ("/v1/structures", {"filter": "nsites > 2", "page_limit": "2", "page_offset": "1", "sort": "-nsites"}),
    ("/v1/structures", {"response_fields": "elements,_atlas2d_band_gap,_other_unknown"}),
    ("/v1/structures", {"include": ""}),
    ("/v1/structures", {"filter": "_atlas2d_band_gap IS KNOWN", "page_limit": "1"}),
    ("/v1/structures", {"filter": 'chemical_formula_reduced = "Nope"'}),
    ("/v1/structures", {"page_above": "1", "page_limit": "1"}),
    ("/v1/structures", {"filter": "nelements >"}),
    ("/v1/structures", {"page_limit": "100000"}),
    ("/v1/structures", {"filter": "nelements LENGTH 1"}),
    ("/v1/structures/not-an-id", {}),
    ("/v1/references", {}),
    ("/v1/links", {}),
    ("/structures", {"page_limit": "1"}),
    ("/v1.2.0/references", {"page_limit": "1"}),
]


def _document(response: Any) -> dict[str, Any]:
    body = json.loads(response.content)
    body.get("meta", {}).pop("time_stamp", None)
    return body


@pytest.fixture(scope="module")
def clients(store: tuple[str, Any]) -> tuple[TestClient, TestClient]:
    """The atlas2d app, and the same app with the reference entry routes left in charge."""
    url = store[0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(routes, "serve_entries_first", lambda app: None)
        reference = create_app(url)
    return TestClient(create_app(url)), TestClient(reference)


def test_entry_routes_answer_as_the_reference_routes(
    clients: tuple[TestClient, TestClient], store: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, reference = clients
    served = []
    original = routes._json  # noqa: SLF001 - wrapped to see that atlas2d's routes, not the reference ones, answered
    monkeypatch.setattr(routes, "_json", lambda body: served.append(1) or original(body))
    single = next(iter(store[1]))
    for path, params in [*REQUESTS, (f"/v1/structures/{single}", {}), (f"/v1/structures/{single}", {"response_fields": "nsites"})]:
        mine, theirs = ours.get(path, params=params), reference.get(path, params=params)
        assert (mine.status_code, mine.headers["content-type"]) == (theirs.status_code, theirs.headers["content-type"]), path
        assert _document(mine) == _document(theirs), (path, params)
        if "page_above" in params:
            assert _document(mine)["meta"]["warnings"], "a warning is part of the document"
    assert len(served) >= 10, "the reference routes answered instead of atlas2d's"
