"""The report in a real browser: headless Chromium (Debian's package) renders the page, every chart
is drawn (its lines and bars have a size on screen), nothing errs and nothing is requested; a
screenshot is saved. Run by `make test-browser` (which installs Chromium and Playwright); plain
`make test` leaves it out (it checks the page's structure and data without a browser)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from export_support import fill, small_ledger

from loanledger import SQLiteStore
from loanledger.report import build_report, render_html
from loanledger.testing.ledgers import three_book_events

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("LOANLEDGER_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(params=["demo", "books"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    """`demo`: the demo ledger (`loanledger demo`); `books`: a generated three-book history."""
    if request.param == "demo":
        return "demo", request.getfixturevalue("demo_db")
    db = tmp_path / "books.db"
    asyncio.run(fill(db, [*three_book_events(3000, seed=5), *small_ledger()]))
    return "books", db


async def test_report_renders_in_headless_chromium(ledger: tuple[str, Path], tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no browser at {CHROMIUM}: `make test-browser` installs Debian's chromium package")
    from playwright.async_api import async_playwright

    name, db = ledger
    async with SQLiteStore(db, read_only=True) as store:
        data = await build_report(store)
    page_file = tmp_path / "report.html"
    page_file.write_text(render_html(data), encoding="utf-8")
    shots = Path(os.environ.get("LOANLEDGER_SCREENSHOTS", str(tmp_path)))
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / f"report-{name}.png"

    errors: list[str] = []
    requests: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else requests.append(r.url))
            await page.goto(page_file.as_uri())
            charts = await page.locator("svg.chart").count()
            sizes = await page.evaluate(
                "[...document.querySelectorAll('svg.chart')].map(svg => ({"
                " id: svg.id, box: svg.getBoundingClientRect().width,"
                " marks: [...svg.querySelectorAll('polyline, rect')].map(e => {"
                "   const b = e.getBBox(); return [e.tagName, b.width, b.height]; })}))")
            title = await page.title()
            await page.screenshot(path=str(shot), full_page=True)
        finally:
            await browser.close()
    assert title == "loanledger report"
    assert charts == len(data.positions) + len(data.interest) > 0
    if name == "books":
        assert len(data.positions) >= 4 and len(data.interest) >= 2
    for chart in sizes:
        assert chart["box"] > 300, chart["id"]  # laid out at a readable width
        assert chart["marks"], chart["id"]
        for tag, width, height in chart["marks"]:
            assert width > 0 and (tag == "polyline" or height > 0), (chart["id"], tag, width, height)
    assert errors == [] and requests == []
    assert shot.stat().st_size > 10_000
    print(f"\nscreenshot: {shot}")
