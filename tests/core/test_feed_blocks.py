"""One block per feed: each client has exactly one thin method per feed block, taking that block's
filters and the options every feed takes; every filter is checked before any request, through the
method and through `client.events` alike."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from aioresponses import aioresponses

from loanledger import FEEDS, OKX, Binance, Bybit, InvalidArgument
from loanledger.client import VenueClient
from loanledger.feeds import OPTIONS


def _clients(ed25519_pem: str) -> list[VenueClient]:
    return [
        OKX("k", "s", "p", account="o"),
        Binance("k", private_key=ed25519_pem, account="b"),
        Bybit("k", "s", account="y"),
    ]


def _feed_methods(client: VenueClient) -> dict[str, str]:
    """feed id -> the name of the method that returns it (methods taking **options)."""
    out: dict[str, str] = {}
    for name, fn in inspect.getmembers(type(client), inspect.isfunction):
        if name.startswith("_") or name == "events":
            continue
        params = inspect.signature(fn).parameters
        if "options" not in params or params["options"].kind is not inspect.Parameter.VAR_KEYWORD:
            continue
        feed = getattr(client, name)()
        assert feed.id not in out, f"{feed.id} has two methods: {out.get(feed.id)} and {name}"
        out[feed.id] = name
    return out


def test_every_feed_has_one_thin_method_taking_its_filters_and_the_options(ed25519_private_pem: str) -> None:
    seen: set[str] = set()
    for client in _clients(ed25519_private_pem):
        methods = _feed_methods(client)
        assert set(methods) == set(client.feed_specs), type(client).__name__
        for feed_id, name in methods.items():
            params = inspect.signature(getattr(type(client), name)).parameters
            keywords = {p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY}
            assert keywords == set(client.feed_specs[feed_id].filters), (feed_id, keywords)
            assert not keywords & set(OPTIONS)
        seen |= set(methods)
    assert seen == set(FEEDS)


@pytest.mark.parametrize(("feed_id", "filters", "argument"), [
    ("okx.flexible_loan_history", {"type": "bogus"}, "type"),
    ("okx.flexible_loan_history", {"order_id": "12ab"}, "order_id"),
    ("okx.flexible_loan_interest", {"currency": "usdt"}, "currency"),
    ("bybit.fixed_borrow_contracts", {"term": 999}, "term"),
    ("bybit.fixed_borrow_contracts", {"term": "8"}, "term"),
    ("bybit.flexible_borrow_history", {"order_id": "1 OR 1=1"}, "order_id"),
    ("binance.pm_interest_history", {"asset": "usdt"}, "asset"),
    ("okx.convert_history", {"nope": "x"}, "nope"),
    ("okx.convert_history", {"since": 1}, "since"),
    ("binance.pmloan_history", {"until": 1_600_000_000_000}, "until"),
])
async def test_bad_filters_and_options_fail_before_any_request(
    ed25519_private_pem: str, feed_id: str, filters: dict[str, Any], argument: str
) -> None:
    client = next(c for c in _clients(ed25519_private_pem) if feed_id in c.feed_specs)
    method = _feed_methods(client)[feed_id]
    with aioresponses() as m:  # nothing is served: any request would fail differently
        for call in (lambda: client.events(feed_id, **filters), lambda: getattr(client, method)(**filters)):
            with pytest.raises(InvalidArgument) as info:
                call()
            assert info.value.argument == argument
        assert not m.requests
    await client.close()


@pytest.mark.parametrize(("feed_id", "filters", "wire"), [
    ("okx.flexible_loan_history", {"type": "repaid", "order_id": "680234819012345678"},
     [("type", "repaid"), ("ordId", "680234819012345678")]),
    ("bybit.fixed_borrow_contracts", {"term": 30, "currency": "ETH"}, [("term", "30"), ("orderCurrency", "ETH")]),
    ("binance.pm_interest_history", {"asset": "USDT"}, [("asset", "USDT")]),
])
def test_good_filters_become_their_wire_parameters(feed_id: str, filters: dict[str, Any],
                                                   wire: list[tuple[str, str]]) -> None:
    assert FEEDS[feed_id].wire_filters(filters) == wire


def test_type_errors_name_the_argument(ed25519_private_pem: str) -> None:
    okx = _clients(ed25519_private_pem)[0]
    with pytest.raises(TypeError, match="currency"):
        okx.flexible_loan_interest(currency=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="strict"):
        okx.convert_history(strict="yes")  # type: ignore[typeddict-item]


def test_each_venue_doc_tabulates_what_final_means_for_every_feed_of_it() -> None:
    """docs/venues/<venue>.md has a "Final: what is read again" table naming each of the venue's
    feeds once, and a feed with its own `final` (or positional ids) is not described as final
    "always" there."""
    import re
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs" / "venues"
    for venue in ("okx", "binance", "bybit"):
        text = (docs / f"{venue}.md").read_text()
        section = re.search(r"^## Final: what is read again\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
        assert section is not None, venue
        rows = dict(re.findall(r"^\| `([a-z_.]+)` \| ([^|]+) \|", section.group(1), re.MULTILINE))
        ids = [f for f, spec in FEEDS.items() if spec.venue == venue]
        assert sorted(rows) == sorted(ids), venue
        for f in ids:
            if FEEDS[f].final is not None or FEEDS[f].positional_ids:
                assert not rows[f].startswith("always"), (f, rows[f])
