"""The OPTIMADE endpoints of ``atlas2d serve``: protocol behaviour, provider fields, validator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from atlas2d.api.optimade.app import PAGE_LIMIT_MAX, reader_engine
from atlas2d.schema.database import sqlalchemy_url
from tests.optimade.support import Expected

Store = tuple[str, dict[str, Expected]]


def get(server: str, path: str, **params: str) -> httpx.Response:
    return httpx.get(f"{server}{path}", params=params, timeout=30)


def test_versions_and_info(server: str) -> None:
    versions = get(server, "/versions")
    assert versions.status_code == 200
    assert versions.text.splitlines()[:2] == ["version", "1"]
    info = get(server, "/v1/info").json()["data"]["attributes"]
    assert info["api_version"].startswith("1.")
    assert set(info["available_endpoints"]) >= {"info", "links", "structures", "references"}
    meta = get(server, "/v1/info").json()["meta"]
    assert meta["provider"]["prefix"] == "atlas2d"


def test_info_structures_describes_provider_fields(server: str) -> None:
    properties = get(server, "/v1/info/structures").json()["data"]["properties"]
    assert properties["_atlas2d_band_gap"]["unit"] == "eV"
    assert properties["_atlas2d_band_gap"]["sortable"] is True
    assert "method" in properties["_atlas2d_band_gap"]["description"]
    for name in ("band_gap_method", "formation_energy", "source", "source_id", "material_id"):
        assert f"_atlas2d_{name}" in properties
    assert {"elements", "nelements", "lattice_vectors", "dimension_types"} <= set(properties)


def test_structure_attributes_match_the_sample(server: str, store: Store) -> None:
    some_id, entry = next((k, e) for k, e in sorted(store[1].items()) if "band_gap" in e.values)
    body = get(server, f"/v1/structures/{some_id}").json()
    attributes = body["data"]["attributes"]
    assert body["data"]["id"] == some_id
    assert attributes["elements"] == entry.elements
    assert attributes["nsites"] == entry.nsites
    assert attributes["chemical_formula_reduced"] == entry.reduced
    assert attributes["chemical_formula_anonymous"] == entry.anonymous
    assert attributes["nperiodic_dimensions"] == 2
    assert attributes["dimension_types"] == [1, 1, 0]
    assert len(attributes["cartesian_site_positions"]) == entry.nsites
    assert [s["name"] for s in attributes["species"]] == entry.elements
    assert attributes["_atlas2d_band_gap"] == pytest.approx(entry.values["band_gap"])
    assert attributes["_atlas2d_band_gap_method"] == entry.values["band_gap_method"]
    assert attributes["_atlas2d_source"] == entry.source
    assert attributes["_atlas2d_source_id"] == some_id.split("/", 1)[1]
    assert isinstance(attributes["_atlas2d_material_id"], int)


def test_unknown_id_is_404_with_jsonapi_error(server: str) -> None:
    response = get(server, "/v1/structures/poscar2d-test/POSCAR-does-not-exist")
    assert response.status_code == 404
    error = response.json()["errors"][0]
    assert error["status"] == "404"
    assert response.headers["content-type"].startswith("application/vnd.api+json")


def test_pagination_visits_every_entry_once(server: str, store: Store) -> None:
    seen: list[str] = []
    url: str | None = f"{server}/v1/structures?page_limit=7&response_fields=id"
    pages = 0
    while url:
        body = httpx.get(url, timeout=30).json()
        seen += [item["id"] for item in body["data"]]
        assert body["meta"]["data_returned"] == len(store[1])
        url = body["links"]["next"]
        pages += 1
    assert sorted(seen) == sorted(store[1])
    assert pages == -(-len(store[1]) // 7)
    by_number = get(server, "/v1/structures", page_limit="7", page_number="2", response_fields="id").json()
    assert [item["id"] for item in by_number["data"]] == seen[7:14]


def test_data_available_counts_every_entry_whatever_the_filter(server: str, store: Store) -> None:
    some_id = sorted(store[1])[0]
    elements = store[1][some_id].elements
    requests = [
        ("/v1/structures", {"filter": f'elements HAS "{elements[0]}"'}),
        ("/v1/structures", {"filter": 'id = "no/such-entry"'}),
        ("/v1/structures", {}),
        (f"/v1/structures/{some_id}", {}),
    ]
    for path, params in requests:
        meta = get(server, path, **params).json()["meta"]
        assert meta["data_available"] == len(store[1]), (path, params)
    references = get(server, "/v1/references").json()
    assert references["meta"]["data_available"] == len(references["data"]) >= 1


def test_page_limit_above_maximum_is_403(server: str) -> None:
    response = get(server, "/v1/structures", page_limit=str(PAGE_LIMIT_MAX + 1))
    assert response.status_code == 403
    assert response.json()["errors"][0]["status"] == "403"
    assert get(server, "/v1/structures", page_limit=str(PAGE_LIMIT_MAX)).status_code == 200


def test_response_fields_limit_the_attributes(server: str) -> None:
    body = get(server, "/v1/structures", response_fields="nelements,_atlas2d_band_gap", page_limit="3").json()
    for item in body["data"]:
        assert set(item["attributes"]) == {"nelements", "_atlas2d_band_gap"}
    bad = get(server, "/v1/structures", response_fields="nonexistent_field")
    assert bad.status_code == 400


@pytest.mark.parametrize(("sort", "key", "reverse"), [("nsites", "nsites", False), ("-_atlas2d_band_gap", "band_gap", True)])
def test_sort(server: str, store: Store, sort: str, key: str, reverse: bool) -> None:
    field = "nsites" if key == "nsites" else "_atlas2d_band_gap"
    body = get(server, "/v1/structures", sort=sort, response_fields=field, page_limit="100", filter=f"{field} IS KNOWN").json()
    values = [item["attributes"][field] for item in body["data"]]
    expected = sorted(
        (e.nsites if key == "nsites" else e.values[key] for e in store[1].values() if key == "nsites" or key in e.values),
        reverse=reverse,
    )
    assert values == pytest.approx(expected)


def test_sort_on_unknown_field_is_400(server: str) -> None:
    assert get(server, "/v1/structures", sort="no_such_field").status_code == 400


def test_include_references(server: str) -> None:
    body = get(server, "/v1/structures", filter='_atlas2d_source = "poscar2d-copy"', include="references").json()
    assert {item["relationships"]["references"]["data"][0]["id"] for item in body["data"]} == {"poscar2d-copy"}
    assert [(inc["type"], inc["id"]) for inc in body["included"]] == [("references", "poscar2d-copy")]
    assert get(server, "/v1/structures", include="nonsense").status_code == 400


def test_references_and_links(server: str) -> None:
    references = get(server, "/v1/references").json()["data"]
    assert {r["id"] for r in references} == {"poscar2d-test", "poscar2d-copy"}
    assert all(r["attributes"]["title"] for r in references)
    one = get(server, "/v1/references/poscar2d-copy").json()["data"]
    assert one["id"] == "poscar2d-copy"
    assert get(server, "/v1/links").json()["data"] == []


def test_bad_filter_is_400_and_unsupported_is_501(server: str) -> None:
    bad = get(server, "/v1/structures", filter="nelements = ")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["status"] == "400"
    unsupported = get(server, "/v1/structures", filter='elements:elements_ratios HAS "Mo":0.5')
    assert unsupported.status_code == 501
    assert unsupported.json()["errors"][0]["status"] == "501"


def test_api_role_cannot_write(store: Store) -> None:
    engine = reader_engine(store[0])
    with engine.connect() as connection:
        assert connection.execute(text("SELECT current_user")).scalar_one() == "atlas2d_reader"
        with pytest.raises(DBAPIError, match="read-only|permission denied"):
            connection.execute(text("DELETE FROM entry"))
    engine.dispose()


def test_pooled_connections_the_server_ended_are_replaced_without_an_error(store: Store) -> None:
    """No pre-ping round trip: a connection the server terminated is seen on checkout and replaced."""
    engine = reader_engine(store[0], autocommit=True)
    with engine.connect() as connection:
        first = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = create_engine(sqlalchemy_url(store[0]))
    with admin.connect() as connection:
        # With a timeout, pg_terminate_backend waits until the backend has gone (its goodbye sent).
        assert connection.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": first}).scalar_one()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != first
    admin.dispose()
    engine.dispose()


def test_optimade_validator_reports_no_failures(server: str) -> None:
    """The reference ``optimade-validator``, all tests including optional ones."""
    validator = Path(sys.executable).with_name("optimade-validator")
    result = subprocess.run(
        [str(validator), "--json", "--random-seed", "2", server], capture_output=True, text=True, timeout=300
    )
    summary = json.loads(result.stdout)
    assert summary["failure_count"] == 0, summary["failure_messages"]
    assert summary["internal_failure_count"] == 0, summary["internal_failure_messages"]
    assert summary["optional_failure_count"] == 0, summary["optional_failure_messages"]
    assert summary["success_count"] >= 50


def test_serve_without_a_reachable_store_is_a_one_line_error(atlas2d) -> None:
    result = atlas2d("serve", "--port", "5999", ATLAS2D_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none", timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith("error:")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_serve_rejects_a_bad_port(atlas2d) -> None:
    result = atlas2d("serve", "--port", "70000", timeout=120)
    assert result.returncode == 2
    assert "65535" in result.stderr
