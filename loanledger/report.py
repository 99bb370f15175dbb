"""`loanledger report`: one self-contained HTML page about a ledger, made from the store.

    data = await build_report(store, reconcile=report_or_none)
    html = render_html(data)

Sections: outstanding debt and collateral per currency over time (one line chart per
currency), interest paid per month and venue (one bar chart per currency), the reconcile
verdict, and per-feed coverage. The charts are inline SVG generated here: the page loads
nothing (a Content-Security-Policy of ``default-src 'none'`` forbids it), runs no script, and
works offline, printed or mailed. Every number shown is exact (plain notation, never
rounded); floats are used only for pixel coordinates. All figures are also embedded as JSON
(``<script type="application/json" id="report-data">``, amounts as strings) for tools.

Sums follow `Store.balances`: settled events only; debt and collateral are the running sums
of the events' `debt` and `collateral` books over every venue and account; interest paid is,
per interest event, ``debt - amount`` (interest added to the debt plus interest charged to the
wallet).
"""

from __future__ import annotations

import datetime as dt
import decimal
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ._money import EXACT
from .errors import InvalidArgument
from .events import EventKind, EventStatus
from .reconcile import ReconcileReport
from .store.base import FeedKey, Store

__all__ = ["FeedCoverage", "ReportData", "build_report", "feed_coverage", "render_html"]

_ZERO = Decimal(0)


@dataclass(slots=True)
class FeedCoverage:
    """What the ledger holds of one feed.

    `covered` and `gaps` are what the store knows of the span a feed has walked and of the
    spans it could not read; None while the store does not track them (the page then says
    "not tracked"). `feed_coverage` is the one place that fills them."""

    key: FeedKey
    checkpoint: bool = False
    events: int = 0
    pending: int = 0
    failed: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    covered: tuple[int | None, int] | None = None  # (None: from the oldest record, newest ms)
    gaps: list[tuple[int | None, int]] | None = None


@dataclass(slots=True)
class ReportData:
    """Everything the page shows, computed exactly from the store."""

    generated: int  # ms UTC
    events: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    #: currency -> [(day, debt, collateral)] at the end of each day either book changed
    positions: dict[str, list[tuple[dt.date, Decimal, Decimal]]] = field(default_factory=dict)
    #: currency -> {(month "YYYY-MM", venue): interest paid}
    interest: dict[str, dict[tuple[str, str], Decimal]] = field(default_factory=dict)
    coverage: list[FeedCoverage] = field(default_factory=list)
    reconcile: ReconcileReport | None = None

    def to_json(self) -> dict[str, Any]:
        """The figures as JSON-ready data (amounts as exact strings, dates ISO)."""
        return {
            "generated": self.generated,
            "events": self.events,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "positions": {c: [{"day": d.isoformat(), "debt": _f(debt), "collateral": _f(coll)}
                              for d, debt, coll in rows] for c, rows in self.positions.items()},
            "interest": {c: [{"month": m, "venue": v, "amount": _f(a)} for (m, v), a in sorted(rows.items())]
                         for c, rows in self.interest.items()},
            "coverage": [{"venue": f.key.venue, "account": f.key.account, "feed": f.key.feed,
                          "checkpoint": f.checkpoint, "events": f.events, "pending": f.pending, "failed": f.failed,
                          "first_ts": f.first_ts, "last_ts": f.last_ts,
                          "covered": list(f.covered) if f.covered else None,
                          "gaps": [list(g) for g in f.gaps] if f.gaps is not None else None}
                         for f in self.coverage],
            "reconcile": None if self.reconcile is None else {
                "ok": self.reconcile.ok,
                "errors": dict(self.reconcile.errors),
                "checks": [{"venue": c.venue, "account": c.account, "scope": c.scope, "currency": c.currency,
                            "book": c.book.value, "position": None if c.position is None else _f(c.position),
                            "ledger": _f(c.computed), "difference": _f(c.difference),
                            "verdict": c.verdict.value, "explanation": c.explanation}
                           for c in self.reconcile.checks],
            },
        }


def _f(d: Decimal) -> str:
    return format(d.copy_abs() if not d else d, "f")


async def feed_coverage(store: Store, seen: dict[FeedKey, FeedCoverage]) -> list[FeedCoverage]:
    """Per-feed coverage: every feed with a checkpoint or events, with what the event scan
    counted (`seen`) and what the feed's checkpoint says (`Store.feed_states`): the span its
    complete walks covered (oldest to newest) and its known gaps (spans no walk read, spans
    past the venue's retention when asked for). A checkpoint this version cannot read leaves
    them "not tracked"."""
    from .paginate.token import coverage

    out = dict(seen)
    for st in await store.feed_states():
        cov_row = out.setdefault(st.key, FeedCoverage(st.key))
        cov_row.checkpoint = True
        try:
            cov = coverage(st.checkpoint)
        except (InvalidArgument, TypeError):
            continue
        if cov.covered:  # newest first
            cov_row.covered = (cov.covered[-1].lo, cov.covered[0].hi)
        cov_row.gaps = sorted(((g.lo, g.hi) for g in (*cov.gaps(), *cov.lost)),
                              key=lambda g: (g[0] is not None, g[0] or 0, g[1]))
    return [out[k] for k in sorted(out)]


async def build_report(store: Store, *, reconcile: ReconcileReport | None = None,
                       now: int | None = None) -> ReportData:
    """The report's figures, in one pass over the store's events (ts order)."""
    data = ReportData(generated=now if now is not None else int(dt.datetime.now(dt.UTC).timestamp() * 1000),
                      reconcile=reconcile)
    debt: dict[str, Decimal] = {}
    coll: dict[str, Decimal] = {}
    seen: dict[FeedKey, FeedCoverage] = {}
    events = store.events()
    try:
        with decimal.localcontext(EXACT):
            async for ev in events:
                key = FeedKey(ev.venue, ev.account, ev.feed)
                cov = seen.get(key)
                if cov is None:
                    cov = seen[key] = FeedCoverage(key)
                cov.events += 1
                cov.first_ts = ev.ts if cov.first_ts is None else cov.first_ts
                cov.last_ts = ev.ts
                data.events += 1
                data.first_ts = ev.ts if data.first_ts is None else data.first_ts
                data.last_ts = ev.ts
                if ev.status is EventStatus.PENDING:
                    cov.pending += 1
                    continue
                if ev.status is EventStatus.FAILED:
                    cov.failed += 1
                    continue
                day = dt.datetime.fromtimestamp(ev.ts / 1000, dt.UTC).date()
                if ev.debt or ev.collateral:
                    c = ev.currency
                    debt[c] = debt.get(c, _ZERO) + ev.debt
                    coll[c] = coll.get(c, _ZERO) + ev.collateral
                    rows = data.positions.setdefault(c, [])
                    if rows and rows[-1][0] == day:
                        rows[-1] = (day, debt[c], coll[c])
                    else:
                        rows.append((day, debt[c], coll[c]))
                if ev.kind is EventKind.INTEREST:
                    paid = ev.debt - ev.amount
                    if paid:
                        per = data.interest.setdefault(ev.currency, {})
                        k = (day.strftime("%Y-%m"), ev.venue)
                        per[k] = per.get(k, _ZERO) + paid
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
    data.positions = dict(sorted(data.positions.items()))
    data.interest = dict(sorted(data.interest.items()))
    data.coverage = await feed_coverage(store, seen)
    return data


# --- rendering ---------------------------------------------------------------------------------

_W, _H = 720, 260
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 16, 16, 24, 36
_VENUE_COLORS = ("#2563eb", "#d97706", "#059669", "#9333ea", "#dc2626", "#0891b2")
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:60rem;color:#111;
padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.5rem;border-bottom:1px solid #ddd}h3{font-size:1rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.2rem .5rem;
text-align:left}td.n{text-align:right;font-family:ui-monospace,monospace}
svg.chart{width:100%;height:auto;max-width:720px;display:block;background:#fafafa;border:1px solid #eee}
.axis{stroke:#999;stroke-width:1}.grid{stroke:#e5e5e5;stroke-width:1}
.debt{fill:none;stroke:#dc2626;stroke-width:2}.collateral{fill:none;stroke:#2563eb;stroke-width:2}
svg text{font-size:11px;fill:#444}.ok{color:#047857;font-weight:600}.bad{color:#b91c1c;font-weight:600}
.muted{color:#666}.legend span{display:inline-block;margin-right:1rem}
.sw{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}
"""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _from(ts: int | None) -> str:
    """The low end of a span (None: it reaches down to the oldest record)."""
    return "the oldest record" if ts is None else _iso(ts)


def _iso(ts: int | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _scale(values: Sequence[Decimal]) -> tuple[Decimal, Decimal]:
    low = min([_ZERO, *values])
    high = max([_ZERO, *values])
    if low == high:
        high = low + 1
    return low, high


def _y(v: Decimal, low: Decimal, high: Decimal) -> float:
    with decimal.localcontext(decimal.Context(prec=50)):  # pixels only: never a displayed number
        frac = float((v - low) / (high - low))
    return _PAD_T + (_H - _PAD_T - _PAD_B) * (1.0 - frac)


def _line_chart(currency: str, rows: list[tuple[dt.date, Decimal, Decimal]]) -> str:
    """Debt and collateral of one currency over time: two step lines."""
    first, last = rows[0][0], rows[-1][0]
    span = max((last - first).days, 1)
    low, high = _scale([v for _, d, c in rows for v in (d, c)])

    def x(day: dt.date) -> float:
        return _PAD_L + (_W - _PAD_L - _PAD_R) * ((day - first).days / span)

    parts = [f'<svg class="chart line" id="chart-positions-{_esc(currency)}" data-currency="{_esc(currency)}" '
             f'viewBox="0 0 {_W} {_H}" role="img" xmlns="http://www.w3.org/2000/svg">',
             f"<title>Outstanding debt and collateral in {_esc(currency)}</title>"]
    zero = _y(_ZERO, low, high)
    parts.append(f'<line class="axis" x1="{_PAD_L}" y1="{zero:.1f}" x2="{_W - _PAD_R}" y2="{zero:.1f}"/>')
    parts.append(f'<text x="{_PAD_L}" y="{_PAD_T - 8}">max {_esc(_f(high))} {_esc(currency)}</text>')
    if low < 0:
        parts.append(f'<text x="{_PAD_L}" y="{_H - _PAD_B + 14}">min {_esc(_f(low))}</text>')
    parts.append(f'<text x="{_PAD_L}" y="{_H - 8}">{first.isoformat()}</text>')
    parts.append(f'<text x="{_W - _PAD_R}" y="{_H - 8}" text-anchor="end">{last.isoformat()}</text>')
    for series, idx in (("debt", 1), ("collateral", 2)):
        points: list[str] = []
        prev: float | None = None
        for row in rows:
            px, py = x(row[0]), _y(row[idx], low, high)  # type: ignore[arg-type]
            if prev is not None:
                points.append(f"{px:.1f},{prev:.1f}")  # a step: the value holds until the next change
            points.append(f"{px:.1f},{py:.1f}")
            prev = py
        if len(rows) == 1:  # one day: a short flat segment so the line is visible
            points.append(f"{_W - _PAD_R:.1f},{prev:.1f}")
        parts.append(f'<polyline class="{series}" data-series="{series}" data-points="{len(rows)}" '
                     f'points="{" ".join(points)}"><title>{series}: {_esc(_f(rows[-1][idx]))} '  # type: ignore[arg-type]
                     f'{_esc(currency)} at the end of {rows[-1][0].isoformat()}</title></polyline>')
    parts.append("</svg>")
    return "".join(parts)


def _bar_chart(currency: str, rows: dict[tuple[str, str], Decimal], venues: list[str]) -> str:
    """Interest paid per month, one bar per venue in each month."""
    months = sorted({m for m, _ in rows})
    low, high = _scale(list(rows.values()))
    slot = (_W - _PAD_L - _PAD_R) / len(months)
    bar = max(slot * 0.8 / len(venues), 1.0)
    zero = _y(_ZERO, low, high)
    parts = [f'<svg class="chart bars" id="chart-interest-{_esc(currency)}" data-currency="{_esc(currency)}" '
             f'viewBox="0 0 {_W} {_H}" role="img" xmlns="http://www.w3.org/2000/svg">',
             f"<title>Interest paid in {_esc(currency)} per month and venue</title>",
             f'<line class="axis" x1="{_PAD_L}" y1="{zero:.1f}" x2="{_W - _PAD_R}" y2="{zero:.1f}"/>',
             f'<text x="{_PAD_L}" y="{_PAD_T - 8}">max {_esc(_f(high))} {_esc(currency)}</text>']
    for i, month in enumerate(months):
        x0 = _PAD_L + i * slot + slot * 0.1
        for j, venue in enumerate(venues):
            amount = rows.get((month, venue))
            if amount is None:
                continue
            top = _y(amount, low, high)
            y, h = min(top, zero), max(abs(zero - top), 1.0)
            color = _VENUE_COLORS[j % len(_VENUE_COLORS)]
            parts.append(f'<rect x="{x0 + j * bar:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{color}" data-month="{month}" data-venue="{_esc(venue)}" '
                         f'data-amount="{_esc(_f(amount))}"><title>{month} {_esc(venue)}: {_esc(_f(amount))} '
                         f'{_esc(currency)}</title></rect>')
    parts.append(f'<text x="{_PAD_L}" y="{_H - 8}">{months[0]}</text>')
    parts.append(f'<text x="{_W - _PAD_R}" y="{_H - 8}" text-anchor="end">{months[-1]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = (), cls: str = "") -> str:
    out = [f'<table class="{cls}"><thead><tr>' + "".join(f"<th>{_esc(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for r in rows:
        out.append("<tr>" + "".join(f'<td class="n">{_esc(c)}</td>' if i in numeric else f"<td>{_esc(c)}</td>"
                                    for i, c in enumerate(r)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _month_ends(rows: list[tuple[dt.date, Decimal, Decimal]]) -> list[tuple[str, Decimal, Decimal]]:
    ends: dict[str, tuple[Decimal, Decimal]] = {}
    for day, d, c in rows:
        ends[day.strftime("%Y-%m")] = (d, c)
    return [(m, d, c) for m, (d, c) in ends.items()]


def render_html(data: ReportData, *, title: str = "loanledger report") -> str:
    """The page (a str of HTML5; write it as UTF-8)."""
    body: list[str] = [f"<h1>{_esc(title)}</h1>",
                       f'<p class="muted">Generated {_iso(data.generated)} from {data.events} stored events '
                       f"({_iso(data.first_ts)} to {_iso(data.last_ts)}). Amounts are exact, never rounded; "
                       "pending and failed events are not counted.</p>"]

    body.append('<section id="positions"><h2>Outstanding debt and collateral</h2>')
    if not data.positions:
        body.append('<p class="empty">No settled event moved a debt or collateral book.</p>')
    else:
        body.append('<p class="legend"><span><i class="sw" style="background:#dc2626"></i>debt</span>'
                    '<span><i class="sw" style="background:#2563eb"></i>collateral</span> (every venue and '
                    "account, per currency; end-of-day values)</p>")
    for currency, rows in data.positions.items():
        body.append(f'<h3>{_esc(currency)}</h3>{_line_chart(currency, rows)}')
        body.append(f"<details><summary>{_esc(currency)}: month-end values</summary>"
                    + _table(["month", "debt", "collateral"],
                             [[m, _f(d), _f(c)] for m, d, c in _month_ends(rows)], numeric=(1, 2),
                             cls=f"positions positions-{_esc(currency)}") + "</details>")
    body.append("</section>")

    body.append('<section id="interest"><h2>Interest paid per month and venue</h2>')
    venues = sorted({v for rows in data.interest.values() for _, v in rows})
    if not data.interest:
        body.append('<p class="empty">No settled interest event.</p>')
    else:
        body.append('<p class="legend">' + "".join(
            f'<span><i class="sw" style="background:{_VENUE_COLORS[j % len(_VENUE_COLORS)]}"></i>{_esc(v)}</span>'
            for j, v in enumerate(venues)) + "</p>")
    for currency, per in data.interest.items():
        body.append(f"<h3>{_esc(currency)}</h3>{_bar_chart(currency, per, venues)}")
        body.append(f"<details><summary>{_esc(currency)}: interest per month and venue</summary>"
                    + _table(["month", "venue", "interest paid"], [[m, v, _f(a)] for (m, v), a in sorted(per.items())],
                             numeric=(2,), cls=f"interest interest-{_esc(currency)}") + "</details>")
    body.append("</section>")

    body.append('<section id="reconcile"><h2>Reconciliation with the venues</h2>')
    rec = data.reconcile
    if rec is None:
        body.append('<p class="verdict none">No reconcile verdict: this report was made without --config. '
                    "<code>loanledger report --config loanledger.toml --db ...</code> compares the ledger's debt "
                    "and collateral with each venue's positions when the report is made.</p>")
    else:
        word = "matched or explained" if rec.ok else "DIFFERS"
        body.append(f'<p class="verdict {"ok" if rec.ok else "bad"}">Verdict: {word} '
                    f"({len(rec.checks)} checks, {len(rec.differences)} differences, {len(rec.errors)} errors).</p>")
        body.append(_table(["venue", "account", "scope", "currency", "book", "venue says", "ledger", "difference",
                            "verdict"],
                           [[c.venue, c.account, c.scope, c.currency, c.book.value,
                             "-" if c.position is None else _f(c.position), _f(c.computed), _f(c.difference),
                             c.verdict.value + (f": {c.explanation}" if c.explanation else "")]
                            for c in rec.checks], numeric=(5, 6, 7), cls="checks"))
        if rec.errors:
            body.append(_table(["account", "error"], [[k, v] for k, v in rec.errors.items()], cls="errors"))
    body.append("</section>")

    body.append('<section id="coverage"><h2>Feeds: coverage and gaps</h2>')
    body.append(_table(
        ["venue", "account", "feed", "checkpoint", "events", "pending", "failed", "first event", "last event",
         "covered span", "known gaps"],
        [[f.key.venue, f.key.account, f.key.feed, "yes" if f.checkpoint else "no", str(f.events), str(f.pending),
          str(f.failed), _iso(f.first_ts), _iso(f.last_ts),
          "not tracked" if f.covered is None else f"{_from(f.covered[0])} to {_iso(f.covered[1])}",
          "not tracked" if f.gaps is None else ("none" if not f.gaps else
                                                "; ".join(f"{_from(a)} to {_iso(b)}" for a, b in f.gaps))]
         for f in data.coverage], numeric=(4, 5, 6), cls="coverage"))
    body.append("</section>")

    payload = json.dumps(data.to_json(), separators=(",", ":"), sort_keys=True).replace("</", "<\\/")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(body)
            + f'\n<script type="application/json" id="report-data">{payload}</script>\n</body></html>\n')
