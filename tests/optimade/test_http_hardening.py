"""Hostile requests against a real ``atlas2d serve``: 4xx JSON:API errors, never a fault or a
dropped connection; real faults answered with a logged request id; the specification's 501s
and warnings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from atlas2d.schema.database import make_engine
from atlas2d.testdata.fuzz_http import SPEC_5XX, fire, http_corpus, kinds
from atlas2d.testdata.servers import atlas2d_server
from tests.optimade.support import Expected

Store = tuple[str, dict[str, Expected]]

QUICK_CORPUS = 400


@pytest.fixture(scope="module")
def logged_server(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``atlas2d serve`` over the shared store, its output in a file, and that file."""
    log = tmp_path_factory.mktemp("serve-log") / "serve.log"
    with atlas2d_server(store[0], log=log) as base:
        yield base, log


def _errors(response: httpx.Response) -> list[dict]:
    assert response.headers["content-type"].startswith("application/vnd.api+json"), response.text[:200]
    errors = response.json()["errors"]
    for error in errors:
        assert error["status"] == str(response.status_code)
        assert ".py" not in error["detail"] and "site-packages" not in error["detail"] and "Traceback" not in error["detail"]
    return errors


@pytest.mark.parametrize("name", ["page_limit", "page_offset", "page_number"])
@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "NaN", "\u00b2", "2^63", str(2**63), "9" * 40, "", "1\u00a0", "\uff11"])
def test_bad_page_numbers_get_400_without_server_paths(logged_server: tuple[str, Path], name: str, value: str) -> None:
    base, _ = logged_server
    response = httpx.get(f"{base}/v1/structures", params={name: value}, timeout=30)
    if name == "page_number" and value == "-1":
        assert response.status_code == 200  # the reference reads page numbers below 1 as 1, with a warning
        return
    assert response.status_code == 400, response.text[:300]
    assert name in _errors(response)[0]["detail"]
    assert len(response.headers["x-request-id"]) == 16


def test_offsets_past_bigint_give_an_empty_page(logged_server: tuple[str, Path]) -> None:
    base, _ = logged_server
    for params in ({"page_offset": str(10**18 - 1)}, {"page_number": str(10**18 - 1), "page_limit": "500"}):
        response = httpx.get(f"{base}/v1/structures", params=params | {"response_fields": "id"}, timeout=30)
        assert response.status_code == 200, response.text[:300]
        assert response.json()["data"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"id": "a/b", "k": "\u00b2"},
        {"id": "a/b", "k": "1.5"},
        {"id": "a/b", "k": "101"},
        {"id": "\x00"},
        {"id": "a/\u200b\n"},
        {"id": "a/" + "b" * 1000},
        {"id": "a/b", "by": "colour"},
        {},
    ],
)
def test_similar_extension_refuses_bad_parameters_with_400(logged_server: tuple[str, Path], params: dict[str, str]) -> None:
    base, _ = logged_server
    response = httpx.get(f"{base}/v1/extensions/similar", params=params, timeout=30)
    assert response.status_code == 400, response.text[:300]
    assert response.json()["errors"][0]["status"] == "400"


@pytest.mark.parametrize("path", ["/v1/structures/%00", "/v1/references/a%00b", "/v1/structures?filter=%00", "/v1/info?x=%00"])
def test_nul_characters_get_400(logged_server: tuple[str, Path], path: str) -> None:
    base, _ = logged_server
    response = httpx.get(f"{base}{path}", timeout=30)
    assert response.status_code == 400
    assert "NUL" in _errors(response)[0]["detail"]


@pytest.mark.parametrize(
    "filter_text", ['nelements = "2"', "nsites LENGTH > 3", "elements HAS 1", "chemical_formula_reduced > 1", "nelements = TRUE"]
)
def test_type_mismatches_get_501(logged_server: tuple[str, Path], filter_text: str) -> None:
    base, _ = logged_server
    response = httpx.get(f"{base}/v1/structures", params={"filter": filter_text}, timeout=30)
    assert response.status_code == 501, response.text[:300]
    _errors(response)


def test_other_providers_fields_are_unknown_with_a_warning_for_unknown_prefixes(logged_server: tuple[str, Path], store: Store) -> None:
    base, _ = logged_server

    def query(filter_text: str) -> dict:
        response = httpx.get(f"{base}/v1/structures", params={"filter": filter_text, "response_fields": "id"}, timeout=30)
        assert response.status_code == 200, response.text[:300]
        return response.json()

    unknown = query("_zzz_flag = TRUE OR nelements >= 1")
    assert unknown["meta"]["data_returned"] == len(store[1])
    assert [w["title"] for w in unknown["meta"]["warnings"]] == ["UnknownProviderProperty"]
    assert "_zzz_flag" in unknown["meta"]["warnings"][0]["detail"]
    assert query("_zzz_flag != FALSE")["data"] == []
    known = query("_mp_band_gap < 2 OR nelements >= 1")
    assert known["meta"]["data_returned"] == len(store[1])
    assert "warnings" not in known["meta"]


def test_warnings_on_a_non_json_response_do_not_break_it(logged_server: tuple[str, Path]) -> None:
    base, _ = logged_server
    response = httpx.get(f"{base}/versions", params=[("api_hint", "v1"), ("api_hint", "v2")], timeout=30)
    assert response.status_code == 200
    assert response.text.splitlines()[:2] == ["version", "1"]


def test_quick_fuzz_corpus_gets_no_fault_and_no_dropped_connection(logged_server: tuple[str, Path]) -> None:
    base, log = logged_server
    corpus = http_corpus(QUICK_CORPUS)
    assert len(dict(kinds(corpus))) >= 25, "the quick corpus must cover every kind of hostility"
    tally = fire("127.0.0.1", int(base.rsplit(":", 1)[1]), corpus)
    assert tally.requests == QUICK_CORPUS
    assert tally.dropped == []
    assert tally.faults == [], [f"{o.status} {o.request.target[:120]}" for o in tally.faults[:10]]
    assert sum(n for status, n in tally.statuses.items() if 400 <= status < 500) > QUICK_CORPUS // 2
    assert set(tally.statuses) & SPEC_5XX, "the corpus holds filters that must get 501 and versions that must get 553"
    assert "Exception in ASGI application" not in log.read_text(errors="replace")


def test_a_real_fault_is_a_500_with_a_request_id_that_the_log_names(store_url: str, tmp_path: Path) -> None:
    """The reader losing its grant is a fault of the server, not of the request."""
    log = tmp_path / "serve.log"
    with atlas2d_server(store_url, log=log) as base:
        owner = make_engine(store_url)
        with owner.begin() as connection:
            connection.execute(text("REVOKE SELECT ON structure FROM atlas2d_reader"))
        owner.dispose()
        response = httpx.get(f"{base}/v1/structures", timeout=30)
        assert response.status_code == 500
        error = _errors(response)[0]
        request_id = response.headers["x-request-id"]
        assert error["meta"] == {"_atlas2d_request_id": request_id}
        assert request_id in error["detail"] and "permission" not in error["detail"]
    logged = log.read_text()
    assert f"request {request_id} failed: GET /v1/structures" in logged
    assert "permission denied" in logged and "Exception in ASGI application" not in logged
