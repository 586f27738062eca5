"""Headless Chromium through Selenium, for the explorer's browser tests and its screenshots.

Debian's ``chromium`` and ``chromium-driver`` packages provide the browser and its driver
(``.ci/run`` installs them); ``chromium_paths`` finds them, and the tests skip with the
reason when they are missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)


def chromium_paths() -> tuple[str, str] | None:
    """(browser, driver) executables on PATH, or None when either is missing."""
    browser = next((p for p in map(shutil.which, BROWSERS) if p), None)
    driver = next((p for p in map(shutil.which, DRIVERS) if p), None)
    return (browser, driver) if browser and driver else None


@contextmanager
def headless_chromium(width: int = 1400, height: int = 1000, downloads: str | None = None) -> Iterator[Any]:
    """A Selenium ``WebDriver`` on headless Chromium; ``downloads`` is where downloads go."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    paths = chromium_paths()
    if paths is None:
        raise RuntimeError("chromium and chromedriver are needed: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}",
                     "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-gpu-sandbox"):
        options.add_argument(argument)
    if downloads:
        options.add_experimental_option("prefs", {"download.default_directory": downloads, "download.prompt_for_download": False})
    driver = webdriver.Chrome(options=options, service=Service(paths[1]))
    try:
        driver.set_page_load_timeout(60)
        if downloads:
            driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
        yield driver
    finally:
        driver.quit()
