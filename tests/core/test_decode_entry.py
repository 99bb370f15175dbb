"""loanledger.decode / FEEDS: the sans-IO entry point."""

from __future__ import annotations

import pytest

import loanledger
from loanledger import FEEDS, InvalidArgument, decode


def test_unknown_feed_names_every_known_feed() -> None:
    with pytest.raises(ValueError) as info:
        decode("okx.no_such_feed", b"{}")
    assert isinstance(info.value, InvalidArgument) and info.value.argument == "feed"
    for feed_id in FEEDS:
        assert feed_id in str(info.value)


def test_feeds_is_read_only_and_keyed_by_spec_id() -> None:
    for feed_id, spec in FEEDS.items():
        assert spec.id == feed_id and feed_id.startswith(spec.venue + ".")
    with pytest.raises(TypeError):
        FEEDS["x"] = None  # type: ignore[index]


def test_decode_needs_bytes() -> None:
    for feed_id in list(FEEDS)[:1]:
        with pytest.raises(TypeError, match="body"):
            decode(feed_id, "not bytes")  # type: ignore[arg-type]


def test_public_names_are_exported() -> None:
    for name in loanledger.__all__:
        assert hasattr(loanledger, name), name
