"""The explorer in a real browser: headless Chromium driven by Selenium over ``atlas2d serve``.

One walk through the pages as a user would take it: search by elements and a gap range with
the form, open a material, see the 3D viewer's canvas and the band plot drawn, follow a
neighbour, download a CIF and read it with pymatgen, go back to the search, and open the
page of a material whose formula is a ``<script>`` element without any script running.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from pymatgen.core import Structure
from sqlalchemy.orm import Session

from atlas2d.testdata.browser import chromium_paths, headless_chromium
from atlas2d.testdata.graph import PBE_GAPS
from atlas2d.testdata.poscar import POSCAR_SOURCE, poscar_structures
from tests.web.conftest import WebStore
from tests.web.support import HOSTILE_SOURCE, SCRIPT_FORMULA, expected_search, material_id

pytestmark = pytest.mark.skipif(chromium_paths() is None, reason="needs chromium and chromedriver (apt-get install chromium-driver)")


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads: Path) -> Iterator[Any]:
    with headless_chromium(downloads=str(downloads)) as driver:
        yield driver


def wait_for(condition: Any, timeout: float = 30.0, what: str = "condition") -> Any:  # noqa: ANN401
    """Poll ``condition()`` until it returns something true (pages draw asynchronously)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def inked_pixels(browser: Any, selector: str) -> int:  # noqa: ANN401
    """How many pixels of a 2D canvas are not transparent (a drawn chart has thousands)."""
    return browser.execute_script(
        """const c = document.querySelector(arguments[0]); if (!c) return 0;
           const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
           let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n;""",
        selector,
    )


def assert_no_alert(browser: Any) -> None:  # noqa: ANN401
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert  # noqa: B018 - the property raises when no alert is open


def test_search_open_material_follow_neighbour_download_and_go_back(
    browser: Any, web_server: str, web_store: WebStore, web_session: Session, downloads: Path  # noqa: ANN401
) -> None:
    from selenium.webdriver.common.by import By

    browser.get(web_server + "/")
    browser.find_element(By.ID, "elements").send_keys("Ag, S")
    browser.find_element(By.ID, "gap_pbe_min").send_keys("1")
    browser.find_element(By.ID, "gap_pbe_max").send_keys("2")
    browser.find_element(By.ID, "search-button").click()
    wait_for(lambda: "gap_pbe_min" in browser.current_url, what="the search URL")
    search_url = browser.current_url
    query = parse_qs(urlparse(search_url).query, keep_blank_values=True)
    assert query == {"elements": ["Ag, S"], "gap_pbe_min": ["1"], "gap_pbe_max": ["2"]}, "empty fields stay out of the URL"
    formulas = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#results a.formula")]
    assert sorted(formulas) == expected_search(web_store.seeded, {"Ag", "S"}, 1.0, 2.0)
    assert "of 2 matching" in browser.find_element(By.ID, "result-count").text

    key, original = poscar_structures(len(PBE_GAPS))[2]
    material = material_id(web_session, POSCAR_SOURCE.name, key)
    browser.find_element(By.CSS_SELECTOR, f'#results a.formula[href="/materials/{material}"]').click()
    wait_for(lambda: browser.current_url.endswith(f"/materials/{material}"), what="the material page")
    assert browser.find_element(By.ID, "formula").text == "Ag2S"
    viewer = browser.find_element(By.ID, "viewer")
    wait_for(lambda: viewer.get_attribute("data-atoms"), what="the 3D viewer")
    assert int(viewer.get_attribute("data-atoms")) == 9 * len(original), "a 3x3 supercell by default"
    canvas = viewer.find_element(By.TAG_NAME, "canvas")
    assert canvas.size["width"] > 200 and canvas.size["height"] > 200
    browser.find_element(By.CSS_SELECTOR, '#supercell option[value="1"]').click()
    wait_for(lambda: viewer.get_attribute("data-atoms") == str(len(original)), what="the 1x1 cell")

    key0, _ = poscar_structures(len(PBE_GAPS))[0]
    banded = material_id(web_session, POSCAR_SOURCE.name, key0)
    browser.get(f"{web_server}/materials/{banded}")
    wait_for(lambda: browser.find_element(By.CSS_SELECTOR, "canvas.band-plot").get_attribute("data-drawn"), what="the band plot")
    assert inked_pixels(browser, "canvas.band-plot") > 2000
    ticks = browser.execute_script("return Chart.getChart(document.querySelector('canvas.band-plot')).scales.x.ticks.map(t => t.label)")
    assert ticks[0] == "Γ" and len(ticks) >= 3

    browser.find_element(By.ID, "download-cif").click()
    cif = wait_for(lambda: [p for p in downloads.glob("*.cif") if p.stat().st_size > 0], what="the CIF download")[0]
    read = Structure.from_file(cif)
    assert read.composition.reduced_formula == poscar_structures(len(PBE_GAPS))[0][1].composition.reduced_formula
    assert len(read) == len(poscar_structures(len(PBE_GAPS))[0][1])

    neighbour = browser.find_element(By.CSS_SELECTOR, "#neighbours-structure a.neighbour")
    target = neighbour.get_attribute("href")
    neighbour.click()
    wait_for(lambda: browser.current_url == target, what="the neighbour's page")
    assert browser.find_element(By.TAG_NAME, "h1").text
    assert "No such material" not in browser.page_source

    browser.back()
    wait_for(lambda: browser.current_url.endswith(f"/materials/{banded}"), what="back to the banded material")
    browser.back()
    browser.back()
    wait_for(lambda: browser.current_url == search_url, what="back to the search")
    assert browser.find_element(By.ID, "elements").get_attribute("value") == "Ag, S"
    assert sorted(a.text for a in browser.find_elements(By.CSS_SELECTOR, "#results a.formula")) == sorted(formulas)


def test_sorting_a_column_keeps_the_query_in_the_url(browser: Any, web_server: str) -> None:  # noqa: ANN401
    from selenium.webdriver.common.by import By

    browser.get(web_server + "/?gap_pbe_min=0")
    browser.find_element(By.LINK_TEXT, "gap PBE").click()
    wait_for(lambda: "sort=gap_pbe" in browser.current_url, what="ascending sort")
    browser.find_element(By.PARTIAL_LINK_TEXT, "gap PBE").click()
    wait_for(lambda: "sort=-gap_pbe" in browser.current_url, what="descending sort")
    assert "gap_pbe_min=0" in browser.current_url
    first = browser.find_element(By.CSS_SELECTOR, "#results a.formula").text
    assert first == "AgCNO", "the largest PBE gap (3.1 eV) first"


def test_stored_html_is_shown_as_text_and_never_runs(browser: Any, web_server: str, web_session: Session) -> None:  # noqa: ANN401
    from selenium.webdriver.common.by import By

    script = material_id(web_session, HOSTILE_SOURCE.name, "script-formula")
    browser.get(web_server + "/?gap_expt_min=1&gap_expt_max=1.2")
    assert SCRIPT_FORMULA in [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#results a.formula")]
    assert_no_alert(browser)
    browser.get(f"{web_server}/materials/{script}")
    assert browser.find_element(By.ID, "formula").text == SCRIPT_FORMULA
    assert browser.title.startswith(SCRIPT_FORMULA)
    assert_no_alert(browser)
    assert browser.execute_script("return document.querySelectorAll('script:not([src]):not([type])').length") == 0
    browser.find_element(By.CSS_SELECTOR, "#entries a").click()
    wait_for(lambda: "/entries/" in browser.current_url, what="the entry page")
    assert "</pre><script>alert('raw')</script>" in browser.find_element(By.ID, "raw-record").text
    assert_no_alert(browser)


def test_overview_draws_the_fingerprint_map(browser: Any, web_server: str) -> None:  # noqa: ANN401
    from selenium.webdriver.common.by import By

    browser.get(web_server + "/overview")
    wait_for(lambda: browser.find_element(By.ID, "fingerprint-map").get_attribute("data-drawn"), what="the map")
    assert inked_pixels(browser, "#fingerprint-map") > 2000
    points = browser.execute_script(
        "return Chart.getChart(document.getElementById('fingerprint-map')).data.datasets.reduce((n, d) => n + d.data.length, 0)"
    )
    assert points == 14, "12 generated models and 2 band structures on real structures"
    assert browser.find_element(By.ID, "sources").text
