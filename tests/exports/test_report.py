"""`loanledger report`: the page's structure and data, parsed with html.parser and compared with
the store's own sums; nothing on the page can load anything from anywhere."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from loanledger import FEEDS, Book, Check, ReconcileReport, SQLiteStore, Verdict
from loanledger._money import exact_sum
from loanledger.report import build_report, render_html

D = Decimal


class Page(HTMLParser):
    """Every start tag with its attributes, the text of <title>/<p>, and the report-data JSON."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.stack: list[str] = []
        self.texts: list[str] = []
        self.data: Any = None
        self._json = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        self._json = tag == "script" and a.get("id") == "report-data"

    def handle_data(self, data: str) -> None:
        if self._json:
            self.data = json.loads(data)
            self._json = False
        else:
            self.texts.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    @property
    def text(self) -> str:
        return " ".join(self.texts)


def assert_offline(html: str, page: Page) -> None:
    assert page.find("meta", http_equiv="Content-Security-Policy")[0]["content"].startswith("default-src 'none'")
    for tag, attrs in page.tags:
        assert tag not in ("link", "img", "iframe", "object", "embed"), tag
        assert not (tag == "script" and attrs.get("type") != "application/json"), "no script runs"
        for name in ("src", "href", "action", "srcset"):
            assert name not in attrs, (tag, attrs)
    assert "@import" not in html and "url(" not in html


async def test_page_structure_and_data_equal_the_store(books_db: Path) -> None:
    async with SQLiteStore(books_db, read_only=True) as store:
        data = await build_report(store, now=1_767_225_600_000)
        sums = await store.balances()
        feeds = await store.feeds()
    html = render_html(data)
    page = Page(html)
    assert_offline(html, page)
    assert len(html) < 400_000

    # the embedded figures are the store's: last debt / collateral and total interest per currency
    debt: dict[str, Decimal] = defaultdict(Decimal)
    coll: dict[str, Decimal] = defaultdict(Decimal)
    interest: dict[str, Decimal] = defaultdict(Decimal)
    for k, b in sums.items():
        debt[k.currency] = exact_sum([debt[k.currency], b.debt])
        coll[k.currency] = exact_sum([coll[k.currency], b.collateral])
        interest[k.currency] = exact_sum([interest[k.currency], b.interest])
    positions = page.data["positions"]
    assert {c for c in debt if debt[c] or coll[c]} <= set(positions)
    for ccy, rows in positions.items():
        assert (D(rows[-1]["debt"]), D(rows[-1]["collateral"])) == (debt[ccy], coll[ccy]), ccy
        days = [r["day"] for r in rows]
        assert days == sorted(set(days))
    got_interest = {c: exact_sum(D(r["amount"]) for r in rows) for c, rows in page.data["interest"].items()}
    assert got_interest == {c: v for c, v in interest.items() if v}
    assert {r["venue"] for rows in page.data["interest"].values() for r in rows} == {"okx", "binance", "bybit"}

    # one line chart per currency with a debt or collateral book, one bar chart per interest currency
    lines = page.find("svg", **{"class": "chart line"})
    bars = page.find("svg", **{"class": "chart bars"})
    assert sorted(s["data-currency"] for s in lines) == sorted(positions)
    assert sorted(s["data-currency"] for s in bars) == sorted(page.data["interest"])
    polylines = page.find("polyline")
    assert len(polylines) == 2 * len(lines)
    points = {(p["data-series"], int(p["data-points"])) for p in polylines}
    for ccy, rows in positions.items():
        assert ("debt", len(rows)) in points and ("collateral", len(rows)) in points
    rects = page.find("rect")
    assert len(rects) == sum(len(rows) for rows in page.data["interest"].values())
    bars_data = {(r["month"], r["venue"], r["amount"]) for rows in page.data["interest"].values() for r in rows}
    assert {(r["data-month"], r["data-venue"], r["data-amount"]) for r in rects} == bars_data  # exact amounts
    # every exact amount is on the page as text too (tables), never rounded
    for ccy, rows in page.data["interest"].items():
        for r in rows:
            assert r["amount"] in page.text
    assert len(page.find("svg")) == len(lines) + len(bars)

    # the verdict section says there is none, and how to get one; coverage has one row per feed
    assert "No reconcile verdict" in page.text and page.data["reconcile"] is None
    cov = page.data["coverage"]
    assert [(c["venue"], c["account"], c["feed"]) for c in cov] == sorted((f.venue, f.account, f.feed) for f in feeds)
    assert sum(c["events"] for c in cov) == page.data["events"]
    assert all(c["checkpoint"] and c["covered"] is None for c in cov)
    assert "not tracked" in page.text


async def test_the_verdict_and_its_checks_are_on_the_page(small_db: Path) -> None:
    report = ReconcileReport(checks=[
        Check("okx", "okx-main", "flexible_loan", "USDT", Book.DEBT, D("21250"), D("21250"), D(0), Verdict.MATCHED),
        Check("bybit", "bybit-loans", "flexible", "USDT", Book.DEBT, D("0.000000000000000123"), D(0),
              D("0.000000000000000123"), Verdict.EXPLAINED, "implied accrued interest (no feed records it)"),
        Check("binance", "pm-pro", "pmloan", "USDC", Book.DEBT, D("90"), D("100"), D("-10"), Verdict.DIFFERS),
    ], errors={"bybit:other": "AuthError: invalid key"})
    async with SQLiteStore(small_db, read_only=True) as store:
        html = render_html(await build_report(store, reconcile=report))
    page = Page(html)
    assert "Verdict: DIFFERS (3 checks, 1 differences, 1 errors)" in page.text
    assert page.find("p", **{"class": "verdict bad"})
    assert "0.000000000000000123" in page.text and "implied accrued interest" in page.text
    assert "AuthError: invalid key" in page.text
    rec = page.data["reconcile"]
    assert rec["ok"] is False and [c["verdict"] for c in rec["checks"]] == ["matched", "explained", "differs"]
    assert rec["checks"][2]["difference"] == "-10"


def test_cli_report_on_the_demo_ledger(demo_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-m", "loanledger", "report", "--db", str(demo_db), "--output", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    page = Page(html)
    assert_offline(html, page)

    async def count() -> int:
        async with SQLiteStore(demo_db, read_only=True) as store:
            return sum(n for *_, n in await store.summary())

    assert page.data["events"] == asyncio.run(count()) > 500
    assert f"report of {page.data['events']} events" in done.stderr
    assert page.find("svg", **{"class": "chart bars"})  # the demo's interest
    assert len(page.data["coverage"]) == len(FEEDS)  # the demo syncs every feed
    # a synced ledger's checkpoints say what each feed covers: from the oldest record or the
    # feed's default start (the demo syncs without since) to the newest ms walked, no gap
    for c in page.data["coverage"]:
        assert c["covered"] is not None and c["gaps"] == [], c
        lo, hi = c["covered"]
        assert (lo is None or c["first_ts"] is None or lo <= c["first_ts"]) and hi > 0, c
    assert "the oldest record to " in page.text and "not tracked" not in page.text


def test_cli_report_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-ledger.db"
    bad.write_text("hello")
    for db in (tmp_path / "missing.db", bad):
        done = subprocess.run([sys.executable, "-m", "loanledger", "report", "--db", str(db), "--output",
                               str(tmp_path / "r.html")], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "--db" in done.stderr and "Traceback" not in done.stderr
        assert not (tmp_path / "r.html").exists()
