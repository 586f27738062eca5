"""The explorer over HTTP: search answers, material content, downloads, escaping, bad input.

Every request goes to a real ``atlas2d serve`` process over the seeded store of
``tests/web/support.py``; expected answers come from the seed's constants.
"""

from __future__ import annotations

import html
import json
import re

import httpx
import pytest
from markupsafe import escape
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure
from sqlalchemy.orm import Session

from atlas2d.testdata.graph import PBE_GAPS
from atlas2d.testdata.poscar import POSCAR_SOURCE, poscar_structures
from tests.optimade.test_hostile_filters import MALFORMED, UNSUPPORTED
from tests.web.conftest import WebStore
from tests.web.support import (
    COPY_SOURCE,
    HOSTILE_KEY,
    HOSTILE_SOURCE,
    HSE06_SHIFT,
    SCRIPT_FORMULA,
    SPLIT_COPY,
    expected_expt,
    expected_search,
    material_id,
)

FORMULA_LINK = re.compile(r'<a href="/materials/(\d+)" class="formula">([^<]*)</a>')


def results(body: str) -> list[tuple[int, str]]:
    """(material id, formula) of each row of the results table, in order."""
    return [(int(i), html.unescape(f)) for i, f in FORMULA_LINK.findall(body)]


def get(base: str, path: str, **params: str) -> httpx.Response:
    return httpx.get(base + path, params=params or None, timeout=60)


def test_search_by_elements_and_pbe_gap_range(web_server: str, web_store: WebStore) -> None:
    response = get(web_server, "/", elements="Ag, S", gap_pbe_min="1", gap_pbe_max="2")
    assert response.status_code == 200
    expected = expected_search(web_store.seeded, {"Ag", "S"}, 1.0, 2.0)
    assert expected == ["Ag2S", "AgCNS"]
    assert sorted(f for _, f in results(response.text)) == expected
    assert f"of <strong>{len(expected)}</strong> matching" in response.text


def test_search_any_of_the_elements(web_server: str, web_store: WebStore) -> None:
    response = get(web_server, "/", elements="Se,Te", elements_mode="any", gap_pbe_max="3")
    formulas = sorted(f for _, f in results(response.text))
    seeded = zip(web_store.seeded.formulas, web_store.seeded.elements, PBE_GAPS, strict=True)
    wanted = sorted(f for f, els, gap in seeded if els & {"Se", "Te"} and gap <= 3)
    assert formulas == wanted == ["Ag2Se", "Ag2Te", "AgSe"]


def test_search_by_measured_gap_finds_experiment_only_materials(web_server: str, web_store: WebStore) -> None:
    response = get(web_server, "/", gap_expt_min="1.0", gap_expt_max="2.0")
    assert sorted(f for _, f in results(response.text)) == expected_expt(web_store.seeded, 1.0, 2.0)
    assert SCRIPT_FORMULA in expected_expt(web_store.seeded, 1.0, 2.0)


def test_formula_is_normalised_and_the_split_copy_is_its_own_material(web_server: str, web_store: WebStore) -> None:
    rows = results(get(web_server, "/", formula="SAg2").text)
    assert [f for _, f in rows] == ["Ag2S", "Ag2S"]
    assert len({i for i, _ in rows}) == 2


def test_search_by_source_method_and_optimade_filter(web_server: str, web_store: WebStore) -> None:
    copies = results(get(web_server, "/", source=COPY_SOURCE.name, gap_hse06_min="0").text)
    assert sorted(f for _, f in copies) == sorted(web_store.seeded.formulas[:3])
    four = results(get(web_server, "/", filter="nelements >= 4").text)
    assert sorted(f for _, f in four) == ["AgCNO", "AgCNS"]


def test_sorting_by_gap_descending_and_ascending(web_server: str, web_store: WebStore) -> None:
    down = results(get(web_server, "/", sort="-gap_pbe", gap_pbe_min="0").text)
    ranked = sorted(zip(PBE_GAPS, web_store.seeded.formulas, strict=True), reverse=True)
    assert [f for _, f in down][:3] == [f for _, f in ranked[:3]]
    up = results(get(web_server, "/", sort="gap_pbe", gap_pbe_min="0").text)
    assert up[0][1] == min(zip(PBE_GAPS, web_store.seeded.formulas, strict=True))[1]


def test_material_page_puts_methods_and_sources_side_by_side(web_server: str, web_session: Session) -> None:
    key, _ = poscar_structures(len(PBE_GAPS))[0]
    material = material_id(web_session, POSCAR_SOURCE.name, key)
    body = get(web_server, f"/materials/{material}").text
    values = body[body.index('<table class="data values">') :]
    values = values[: values.index("</table>")]
    for value, method in ((PBE_GAPS[0], "PBE"), (PBE_GAPS[0] + HSE06_SHIFT, "HSE06")):
        row = rf"<td>band_gap</td>\s*<td class=\"num\">{value:g}</td>\s*<td class=\"unit\">eV</td>\s*<td>{method}</td>"
        assert re.search(row, values), method
    assert f"{COPY_SOURCE.name}/{key}" in values and f"{POSCAR_SOURCE.name}/{key}" in values
    assert 'id="evidence"' in body and "PDD EMD" in body and "same reduced formula" in body
    assert 'class="band-plot"' in body and 'id="bands-data"' in body
    assert 'id="neighbours-structure"' in body and "neighbours-bands" in body
    assert 'id="structures-data"' in body


def test_curator_override_is_shown_with_the_other_material(web_server: str, web_session: Session) -> None:
    key, _ = poscar_structures(len(PBE_GAPS))[SPLIT_COPY]
    original = material_id(web_session, POSCAR_SOURCE.name, key)
    copy = material_id(web_session, COPY_SOURCE.name, key)
    assert original != copy
    body = get(web_server, f"/materials/{original}").text
    overrides = body[body.index('id="overrides"') :]
    assert "split" in overrides and f'href="/materials/{copy}"' in overrides
    assert "curator: &lt;keep apart&gt;" in overrides


def test_downloads_read_back(web_server: str, web_session: Session) -> None:
    key, original = poscar_structures(len(PBE_GAPS))[1]
    material = material_id(web_session, POSCAR_SOURCE.name, key)
    cif = get(web_server, f"/materials/{material}/structure.cif")
    assert cif.status_code == 200 and "attachment" in cif.headers["content-disposition"]
    poscar = get(web_server, f"/materials/{material}/structure.poscar")
    for text, fmt in ((cif.text, "cif"), (poscar.text, "poscar")):
        read = Structure.from_str(text, fmt=fmt)
        assert read.composition.reduced_formula == original.composition.reduced_formula
        assert len(read) == len(original)
        assert StructureMatcher().fit(read, original)
    document = get(web_server, f"/materials/{material}/material.jsonld").json()
    assert document["@id"] == f"id:material/{material}" and document["material_id"] == material
    assert "split" not in document and document["n_entries"] == len(document["entries"]) >= 2
    members = sorted((e["source"], e["source_key"]) for e in document["entries"])
    expected = [(f"id:dataset/{s}", k) for s, k in ((COPY_SOURCE.name, key), ("expt-test", "expt-1"), (POSCAR_SOURCE.name, key))]
    assert members == sorted(expected)


def test_every_page_escapes_stored_text(web_server: str, web_session: Session) -> None:
    script = material_id(web_session, HOSTILE_SOURCE.name, "script-formula")
    hostile = material_id(web_session, HOSTILE_SOURCE.name, HOSTILE_KEY)
    pages = [
        get(web_server, "/", gap_expt_min="1", gap_expt_max="1.2"),
        get(web_server, "/", source=HOSTILE_SOURCE.name),
        get(web_server, f"/materials/{script}"),
        get(web_server, f"/materials/{hostile}"),
        get(web_server, "/overview"),
    ]
    for response in pages:
        assert response.status_code == 200
        for raw in (SCRIPT_FORMULA, HOSTILE_KEY, "<script>alert(", "<img src=x", "<b>not bold</b>", "<keep apart>"):
            assert raw not in response.text, (response.url, raw)
    assert str(escape(SCRIPT_FORMULA)) in pages[2].text
    material_page = pages[2].text
    entry = re.search(r'<a href="/entries/(\d+)"', material_page[material_page.index('id="entries"') :])
    assert entry is not None
    raw_page = get(web_server, f"/entries/{entry.group(1)}").text
    assert "&lt;/pre&gt;&lt;script&gt;" in raw_page
    assert "</pre><script>" not in raw_page


BAD_REQUESTS = [
    ("/materials/999999", 404, "No such material"),
    ("/materials/abc", 404, "No such material"),
    ("/materials/-1", 404, "No such material"),
    ("/materials/99999999999999999999999", 404, "No such material"),
    ("/entries/0", 404, "No such entry"),
    ("/entries/abc/raw.json", 404, "No such entry"),
    ("/materials/1/structure.xyz", 404, "Unknown format"),
    ("/materials/abc/material.jsonld", 404, "No such material"),
    ("/materials/1/nothing/here", 404, "Not found"),
    ("/overview/nothing", 404, "Not found"),
    ("/?filter=nsites%20%3E", 400, "filter: cannot parse filter"),
    ("/?filter=nonsense_property%20%3D%201", 400, "filter"),
    ("/?filter=" + "(" * 60 + "nsites=1" + ")" * 60, 400, "filter"),
    ("/?page=999999", 404, "past the last page"),
    ("/?page=99999999999", 400, "page must be a whole number"),
    ("/?page=0", 400, "page must be a whole number"),
    ("/?page=abc", 400, "page must be a whole number"),
    ("/?per_page=7", 400, "per_page must be one of"),
    ("/?gap_pbe_min=abc", 400, "gap_pbe_min must be a number"),
    ("/?gap_pbe_min=nan", 400, "finite"),
    ("/?gap_pbe_min=3&gap_pbe_max=1", 400, "above the maximum"),
    ("/?elements=Xx", 400, "not a chemical element"),
    ("/?elements=mo", 400, "not a chemical element"),
    ("/?formula=%3Cscript%3E", 400, "not a chemical formula"),
    ("/?sort=password", 400, "cannot sort by"),
    ("/?elements_mode=some", 400, "elements_mode must be"),
    ("/?filter=nsites%00", 400, "NUL"),
    ("/?filter=" + "x" * 5000, 400, "the limit is 4096"),
]


@pytest.mark.parametrize(("path", "status", "phrase"), BAD_REQUESTS)
def test_bad_input_gets_a_helpful_page_with_its_status(web_server: str, path: str, status: int, phrase: str) -> None:
    response = httpx.get(web_server + path, timeout=60)
    assert response.status_code == status, (path, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")
    body = html.unescape(response.text)
    assert phrase in body, (path, body[:2000])
    assert "Traceback" not in body and 'File "' not in body


def test_structure_downloads_that_cannot_be_answered_are_404(web_server: str, web_session: Session) -> None:
    script = material_id(web_session, HOSTILE_SOURCE.name, "script-formula")
    response = get(web_server, f"/materials/{script}/structure.cif")
    assert response.status_code == 404 and "no entry with a structure" in response.text
    key, _ = poscar_structures(len(PBE_GAPS))[0]
    material = material_id(web_session, POSCAR_SOURCE.name, key)
    assert get(web_server, f"/materials/{material}/structure.cif").status_code == 200
    assert get(web_server, f"/materials/{material}/structure.cif", entry="999999").status_code == 404


def test_other_methods_are_refused_with_a_page(web_server: str) -> None:
    response = httpx.post(web_server + "/", timeout=30)
    assert response.status_code == 405 and response.headers["content-type"].startswith("text/html")


def test_every_malformed_filter_is_400_or_501_and_never_500(web_server: str) -> None:
    answers: dict[int, int] = {}
    with httpx.Client(timeout=60) as client:
        for text in MALFORMED:
            response = client.get(web_server + "/", params={"filter": text})
            answers[response.status_code] = answers.get(response.status_code, 0) + 1
            assert response.status_code in (400, 501), (text, response.status_code)
            assert "Traceback" not in response.text
    assert answers.get(501, 0) >= len(UNSUPPORTED)


def test_optimade_api_is_unchanged_beside_the_explorer(web_server: str, web_store: WebStore) -> None:
    info = get(web_server, "/v1/info")
    assert info.status_code == 200 and info.json()["data"]["type"] == "info"
    structures = get(web_server, "/v1/structures", filter='elements HAS ALL "Ag","S"', response_fields="id")
    assert structures.status_code == 200 and structures.json()["meta"]["data_returned"] >= 3
    missing = get(web_server, "/v1/nothing")
    assert missing.status_code == 404 and "errors" in json.loads(missing.text)
    assert get(web_server, "/v1/structures/no-such/id").status_code == 404


def test_pages_report_their_server_time(web_server: str) -> None:
    for path in ("/", "/overview"):
        timing = get(web_server, path).headers["server-timing"]
        assert re.fullmatch(r"app;dur=\d+\.\d\d", timing)
