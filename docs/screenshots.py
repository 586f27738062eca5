"""Take the explorer screenshots in docs/img/ with headless Chromium over a demo store.

    ATLAS2D_DATA_DIR=/tmp/demo atlas2d demo          # once: fill a store with the bundled samples
    python docs/screenshots.py --data-dir /tmp/demo  # serve it and photograph the pages

Needs Debian's ``chromium`` and ``chromium-driver`` (what the browser tests use).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import httpx

from atlas2d.testdata.browser import headless_chromium
from atlas2d.testdata.servers import running

WIDTH = 1400
MAX_HEIGHT = 2600


def pages(base: str) -> dict[str, str]:
    """Screenshot name -> path; the material is the demo's material with the most sources."""
    overview = httpx.get(base + "/overview", timeout=60).text
    material = re.search(r'<a href="/materials/(\d+)">', overview[overview.index('id="multi-source"') :]).group(1)
    entry = re.search(r'"href":"/entries/(\d+)"', overview).group(1)
    return {
        "explorer-search": "/?elements=S&gap_pbe_min=0.5&sort=-gap_pbe",
        "explorer-material": f"/materials/{material}",
        "explorer-overview": "/overview",
        "explorer-entry-bands": f"/entries/{entry}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="an ATLAS2D_DATA_DIR filled by 'atlas2d demo'")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "img", help="folder for the PNG files")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    serve = [sys.executable, "-m", "atlas2d", "serve", "--host", "127.0.0.1", "--port", "{port}"]
    with running(serve, "/", env={"ATLAS2D_DATA_DIR": str(args.data_dir)}) as base, headless_chromium(WIDTH, 1000) as browser:
        for name, path in pages(base).items():
            browser.get(base + path)
            time.sleep(2)
            height = browser.execute_script("return document.documentElement.scrollHeight")
            # The page at its full height (up to MAX_HEIGHT) in one picture, as a tall screen would show it.
            browser.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": WIDTH, "height": min(height, MAX_HEIGHT), "deviceScaleFactor": 1, "mobile": False},
            )
            time.sleep(1.5)
            browser.save_screenshot(str(args.out / f"{name}.png"))
            browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
            print(f"{name}.png  {path}")


if __name__ == "__main__":
    main()
