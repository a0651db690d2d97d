"""Screenshots of the pages for the README: docs/admin.png and docs/upload.png.

    .venv/bin/python scripts/screenshots.py --url http://127.0.0.1:5344 VIDEO [VIDEO ...]

Against a running service (with an executor, to show real work): uploads the given videos
through the page, waits for them, posts a few executor log lines, and shoots both pages in
Debian's headless Chromium.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the browser: the tests' own

import httpx

from tests.fixtures.browser import chromium

DOCS = Path(__file__).resolve().parents[1] / "docs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("videos", nargs="+", type=Path, help="videos to upload on the page")
    parser.add_argument("--url", default="http://127.0.0.1:5344")
    parser.add_argument("--wait", type=float, default=240, help="seconds to wait for results")
    args = parser.parse_args()
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 760})
        page.goto(args.url + "/")
        page.set_input_files("#files", [str(path) for path in args.videos])
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:
            if page.locator("a.download").count() >= len(args.videos):
                break
            time.sleep(1)
        page.screenshot(path=str(DOCS / "upload.png"))
        httpx.post(
            args.url + "/api/bases/logs/",
            json={"level": "warning", "message": "WeFastAPI executor: GPU at 91 °C"},
        )
        page.goto(args.url + "/admin")
        page.wait_for_timeout(1500)
        page.screenshot(path=str(DOCS / "admin.png"), full_page=False)
    print(f"wrote {DOCS / 'upload.png'} and {DOCS / 'admin.png'}")


if __name__ == "__main__":
    main()
