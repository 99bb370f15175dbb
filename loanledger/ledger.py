"""Many clients and feeds at once: concurrent sync, merged stream, follow mode, store writes.

    async with Ledger([okx, binance, bybit], store=SQLiteStore("ledger.db")) as ledger:
        async for ev in ledger.sync():          # every feed of every client, concurrently
            ...
        print(ledger.last_report.table())

Each feed runs in its own task under its client's rate limits and hands whole
pages to the consumer through a bounded queue (backpressure). A feed resumes
from its checkpoint and every page is committed together with its new
checkpoint in one transaction before its events are yielded, so a process
killed at any point resumes with nothing lost or doubled; only events that are
new or changed are yielded. Without a store the ledger keeps one in memory
(`MemoryStore`: the same semantics, gone with the ledger, every event held).

Failures surface: a feed that fails (auth, ban, a store error, ...) does not stop
the others; once every healthy feed's events were yielded and committed, the
sync raises `SyncError` (an ExceptionGroup of the feeds' errors, with the
report). `follow()` logs and counts transient failures (`is_transient`) and
polls on; a permanent one raises. A ledger used without ``async with`` opens
its store on first use (and `close()` closes it).

Every feed's checkpoint knows the spans complete walks covered: a sync whose
`since` (or the feed's default start) reaches below them backfills the missing
span first-class, `full=True` re-walks a feed from scratch (upserting what
changed), and records that can still change (`FeedSpec.final`) are read again on
every sync until they are final.

Events are yielded after their page is committed: a consumer that stops
early may never see events that were already stored. For at-least-once
delivery give `sync(before_commit=...)`: an async callback that receives each
page's new or changed events before that page's checkpoint commits (if it
raises, the page is not committed and its feed fails; the next sync hands
those events over again).
"""

from __future__ import annotations

import asyncio
import decimal
import heapq
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any

from ._args import TimeArg, check_positive_number, to_ms
from ._money import EXACT
from .client import VenueClient
from .errors import InvalidArgument, LoanLedgerError, SyncError, is_transient
from .events import EventKind, EventStatus, LoanEvent
from .paginate import Feed
from .paginate.token import coverage
from .reconcile import Book, ReconcileReport, Scope, compare
from .store.base import Balance, BalanceKey, FeedKey, Store
from .store.memory import MemoryStore

__all__ = ["BeforeCommit", "FeedReport", "Ledger", "SyncReport", "SyncRun"]

log = logging.getLogger("loanledger.ledger")

#: `sync(before_commit=...)`: called with a page's new or changed events before it commits
BeforeCommit = Callable[[list[LoanEvent]], Awaitable[None]]

#: `sync(filters=...)`: feed id (or ``venue:account:feed_id``) -> that feed's filters
Filters = Mapping[str, Mapping[str, object]]


@dataclass(slots=True)
class FeedReport:
    """What one feed did in one sync (in `follow()`: summed over its rounds so far)."""

    key: FeedKey
    events: int = 0  # events yielded (new or changed)
    records: int = 0  # wire records received
    pages: int = 0
    requests: int = 0
    retries: int = 0
    wait_seconds: float = 0.0
    gaps: int = 0  # data gaps warned about (DataGapWarning): retention, ties wider than a page
    seconds: float = 0.0
    error: str | None = None  # "ErrorClass: message" of the failure (the latest round's in follow())
    done: bool = False
    exception: Exception | None = None  # the failure itself
    failures: int = 0  # failed runs (follow(): every round that failed, transient ones included)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class SyncReport:
    """The per-feed reports of one sync, in a stable order."""

    feeds: list[FeedReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.feeds)

    @property
    def failed(self) -> list[FeedReport]:
        return [f for f in self.feeds if not f.ok]

    @property
    def events(self) -> int:
        return sum(f.events for f in self.feeds)

    def table(self) -> str:
        """A plain-text table (the CLI prints a rich one on a terminal)."""
        head = f"{'feed':<52} {'events':>7} {'pages':>6} {'reqs':>5} {'waits':>7} {'gaps':>4}  status"
        lines = [head, "-" * len(head)]
        for f in self.feeds:
            status = "ok" if f.ok else f"FAILED {f.error}"
            lines.append(
                f"{str(f.key):<52} {f.events:>7} {f.pages:>6} {f.requests:>5} {f.wait_seconds:>6.1f}s {f.gaps:>4}  {status}"
            )
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class _Options:
    """What every feed of one sync is walked with (checked before any request)."""

    since: int | None = None
    until: int | None = None
    max_pages: int | None = None
    strict: bool = False
    full: bool = False
    filters: Mapping[tuple[VenueClient, str], Mapping[str, object]] = field(default_factory=dict)


@dataclass(slots=True)
class _Job:
    """One feed of one sync, ready to walk: its stored checkpoint and the Feed resuming it."""

    client: VenueClient
    key: FeedKey
    token: str | None
    feed: Feed


_DONE = object()


class SyncRun(AsyncIterator[LoanEvent]):
    """One sync over the selected feeds: an async iterator of events, `report` as it goes.

    When the iteration ends and feeds failed, it raises `SyncError` (after every other feed's
    events)."""

    def __init__(
        self,
        selected: Sequence[tuple[VenueClient, str]],
        store: Store,
        prepare: Callable[[], Awaitable[list[_Job]]],
        *,
        queue_pages: int = 4,
        before_commit: BeforeCommit | None = None,
        report: SyncReport | None = None,
    ) -> None:
        self._selected = selected
        self._before_commit = before_commit
        self._store = store
        self._prepare = prepare
        self._queue_pages = queue_pages
        self.report = report if report is not None else SyncReport(
            [FeedReport(FeedKey(c.venue, c.account, f)) for c, f in selected])
        self._gen: AsyncGenerator[LoanEvent, None] | None = None

    def __aiter__(self) -> SyncRun:
        return self

    async def __anext__(self) -> LoanEvent:
        if self._gen is None:
            self._gen = self._run()
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        """Stop every feed task (a page being committed finishes or rolls back whole)."""
        if self._gen is not None:
            await self._gen.aclose()

    async def _run(self) -> AsyncGenerator[LoanEvent, None]:
        jobs = await self._prepare()  # opens the store; bad input and bad checkpoints raise here
        for rep in self.report.feeds:  # a new round (follow() sums the counters over rounds)
            rep.done, rep.error, rep.exception = False, None, None
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=self._queue_pages * max(1, len(jobs)))
        tasks = [
            asyncio.create_task(self._feed(job, rep, queue), name=f"loanledger:{rep.key}")
            for job, rep in zip(jobs, self.report.feeds, strict=True)
        ]
        remaining = len(tasks)
        try:
            while remaining:
                item = await queue.get()
                if item is _DONE:
                    remaining -= 1
                    continue
                for ev in item:
                    yield ev
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        failed = {f.key: f.exception for f in self.report.failed if f.exception is not None}
        if failed:
            n = len(self.report.feeds)
            raise SyncError(
                f"{len(failed)} of {n} feed{'s' if n != 1 else ''} failed: "
                + "; ".join(f"{f.key}: {f.error}" for f in self.report.failed),
                failed, report=self.report,
            )

    async def _feed(self, job: _Job, rep: FeedReport, queue: asyncio.Queue[Any]) -> None:
        started = time.perf_counter()
        feed = job.feed
        try:
            key, token = job.key, job.token
            async for page in feed.pages():
                if self._before_commit is not None:
                    fresh = await self._store.changed(key, page.events)
                    if fresh:
                        await self._before_commit(list(fresh))
                changed = await self._store.commit_page(key, page.events, page.checkpoint, expected=token)
                token = page.checkpoint
                rep.pages += 1
                rep.records += page.records
                rep.events += len(changed)
                if changed:
                    await queue.put(changed)
            rep.done = True
        except LoanLedgerError as exc:
            rep.error, rep.exception = f"{type(exc).__name__}: {exc}", exc
            rep.failures += 1
        except Exception as exc:  # a bug in one feed must not take the others down
            rep.error, rep.exception = f"unexpected {type(exc).__name__}: {exc}", exc
            rep.failures += 1
        finally:
            rep.seconds += time.perf_counter() - started
            st = feed.stats
            rep.requests += st.requests
            rep.retries += st.retries
            rep.wait_seconds += st.wait_seconds
            rep.gaps += st.gaps
        await queue.put(_DONE)


class Ledger:
    """Sync many clients' feeds into one stream and a store (a `MemoryStore` when none is
    given). Closes its clients and the store on exit. Used without ``async with``, it opens
    the store on first use; call `close()` when done.

    On a store opened with ``read_only=True`` the ledger reports (`balances`, `reconcile`)
    and never writes: `sync`, `merged` and `follow` refuse before any request."""

    def __init__(
        self, clients: Iterable[VenueClient], *, store: Store | None = None, keep_raw: bool = False
    ) -> None:
        self.clients: list[VenueClient] = []
        seen: set[tuple[str, str]] = set()
        for c in clients:
            if not isinstance(c, VenueClient):
                raise TypeError(f"clients: expected venue clients (OKX, Binance, Bybit), got {type(c).__name__}")
            ident = (c.venue, c.account)
            if ident in seen:
                raise InvalidArgument("clients", f"two {c.venue} clients share account label {c.account!r}")
            seen.add(ident)
            self.clients.append(c)
        if not self.clients:
            raise InvalidArgument("clients", "give at least one client")
        if store is not None and not isinstance(store, Store):
            raise TypeError(f"store: expected a Store (e.g. SQLiteStore), got {type(store).__name__}")
        if not isinstance(keep_raw, bool):
            raise TypeError(f"keep_raw: expected bool, got {type(keep_raw).__name__}")
        self.store: Store = MemoryStore() if store is None else store
        self.keep_raw = keep_raw  # keep each record's wire bytes in LoanEvent.raw (and the store)
        self.last_report: SyncReport | None = None
        self._store_open = False
        self._opening = asyncio.Lock()

    async def __aenter__(self) -> Ledger:
        await self._open_store()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _open_store(self) -> None:
        """Open the store once (idempotent); a store that cannot be opened raises here."""
        if self._store_open:
            return
        async with self._opening:
            if not self._store_open:
                await self.store.open()
                self._store_open = True

    async def close(self) -> None:
        """Close every client and the store. A cancellation (Ctrl-C) arriving meanwhile waits
        for the closing to finish, then propagates: no session or store is left open."""
        closing = asyncio.ensure_future(self._close())
        try:
            await asyncio.shield(closing)
        except asyncio.CancelledError:
            await closing
            raise

    async def _close(self) -> None:
        try:
            await asyncio.gather(*(c.close() for c in self.clients))
        finally:
            self._store_open = False
            await self.store.close()

    def _writable(self) -> None:
        if self.store.read_only:
            raise InvalidArgument("store", f"{self.store!r} is read-only: a sync writes what it reads")

    def select(self, feeds: Iterable[str] | None = None) -> list[tuple[VenueClient, str]]:
        """(client, feed id) pairs: every feed, or those named (feed ids, venue names,
        ``venue:account`` labels, or ``venue:account:feed_id`` for one feed of one account)."""
        every = [(c, f) for c in self.clients for f in c.feed_ids()]
        if feeds is None:
            return every
        if isinstance(feeds, str):
            feeds = [feeds]
        wanted = list(feeds)
        known = {f for _, f in every} | {c.venue for c in self.clients} | {f"{c.venue}:{c.account}" for c in self.clients}
        one = {f"{c.venue}:{c.account}:{f}" for c, f in every}
        for w in wanted:
            if w not in known and w not in one:
                raise InvalidArgument("feeds", f"unknown feed or venue {w!r}; known: {', '.join(sorted(known))}")
        return [(c, f) for c, f in every if f in wanted or c.venue in wanted or f"{c.venue}:{c.account}" in wanted
                or f"{c.venue}:{c.account}:{f}" in wanted]

    # --- options: checked when a sync is asked for, before any request ---------------------------

    def _walks(
        self, feeds: Iterable[str] | None, since: TimeArg, until: TimeArg, max_pages: int | None,
        strict: bool, full: bool, filters: Filters | None,
    ) -> tuple[list[tuple[VenueClient, str]], _Options]:
        """What `sync`, `merged` and `follow` check before anything runs: a writable store, the
        selected feeds, and every option of every selected feed."""
        self._writable()
        selected = self.select(feeds)
        return selected, self._options(selected, since, until, max_pages, strict, full, filters)

    def _options(
        self, selected: list[tuple[VenueClient, str]], since: TimeArg, until: TimeArg, max_pages: int | None,
        strict: bool, full: bool, filters: Filters | None,
    ) -> _Options:
        lo, hi = to_ms("since", since), to_ms("until", until)
        if lo is not None and hi is not None and lo > hi:
            raise InvalidArgument("since", f"since ({lo}) is after until ({hi})")
        for flag, value in (("strict", strict), ("full", full)):
            if not isinstance(value, bool):
                raise TypeError(f"{flag}: expected bool, got {type(value).__name__}")
        if max_pages is not None and (isinstance(max_pages, bool) or not isinstance(max_pages, int)):
            raise TypeError(f"max_pages: expected int, got {type(max_pages).__name__}")
        if max_pages is not None and max_pages < 1:
            raise InvalidArgument("max_pages", f"{max_pages!r} must be a positive int")
        per_feed: dict[tuple[VenueClient, str], Mapping[str, object]] = {}
        if filters is not None:
            if not isinstance(filters, Mapping):
                raise TypeError(f"filters: expected a mapping of feed id -> {{filter: value}}, "
                                f"got {type(filters).__name__}")
            for name, values in filters.items():
                matched = [(c, f) for c, f in selected if name in (f, f"{c.venue}:{c.account}:{f}")]
                if not matched:
                    raise InvalidArgument("filters", f"{name!r} is not a selected feed (give a feed id or "
                                                     "venue:account:feed_id of this sync)")
                if not isinstance(values, Mapping):
                    raise TypeError(f"filters[{name!r}]: expected a mapping of filter -> value, "
                                    f"got {type(values).__name__}")
                for pair in matched:
                    per_feed[pair] = {**per_feed.get(pair, {}), **values}
        opts = _Options(lo, hi, max_pages, strict, full, per_feed)
        for client, feed_id in selected:  # every argument of every feed, as client.events checks it
            self._feed(client, feed_id, opts, None)
        return opts

    def _feed(self, client: VenueClient, feed_id: str, opts: _Options, token: str | None) -> Feed:
        extra: dict[str, Any] = {} if opts.max_pages is None else {"max_pages": opts.max_pages}
        return client.events(
            feed_id, **opts.filters.get((client, feed_id), {}), since=opts.since, until=opts.until,
            strict=opts.strict, keep_raw=self.keep_raw, full=opts.full, resume=token, **extra,
        )

    async def _prepare(self, selected: Sequence[tuple[VenueClient, str]], opts: _Options) -> list[_Job]:
        """Open the store, read every selected feed's checkpoint and build its Feed: a store
        that does not open, a checkpoint that is not a token or was made with other filters
        (without full=True) raise here, before any request."""
        await self._open_store()
        jobs: list[_Job] = []
        for client, feed_id in selected:
            key = FeedKey(client.venue, client.account, feed_id)
            token = await self.store.checkpoint(key)
            resume = token
            if token is not None:
                fresh = self._feed(client, feed_id, opts, None)
                made_with = coverage(token).filters
                if made_with != fresh.filters:
                    if not opts.full:
                        raise InvalidArgument(
                            "filters", f"{key}: its checkpoint was made with filters {made_with or 'none'!r}, "
                            f"not {fresh.filters or 'none'!r}; sync it with the same filters, or with "
                            "full=True to walk it again with these")
                    resume = None  # a full walk of the new selection starts a new checkpoint
            jobs.append(_Job(client, key, token, self._feed(client, feed_id, opts, resume)))
        return jobs

    # --- sync, merged, follow ------------------------------------------------------------------------

    def sync(
        self,
        feeds: Iterable[str] | None = None,
        since: TimeArg = None,
        *,
        until: TimeArg = None,
        max_pages: int | None = None,
        strict: bool = False,
        full: bool = False,
        filters: Filters | None = None,
        before_commit: BeforeCommit | None = None,
    ) -> SyncRun:
        """Every selected feed, concurrently; events as they arrive (those new or changed in the store).

        The options are those every feed takes (`client.events`): `since` / `until` (int ms or
        aware datetimes), `max_pages`, `strict` (a data gap raises instead of warning) and
        `filters`, per feed: ``{"okx.flexible_loan_interest": {"currency": "USDT"}}`` (a feed id
        applies to that feed of every selected account; ``venue:account:feed_id`` to one). A
        feed's checkpoint belongs to the filters it was made with: syncing it with others raises
        InvalidArgument before any request, unless `full`. `full=True` re-walks every selected
        feed from its start (`since`, else the feed's default) whatever its checkpoint covers,
        and upserts what changed. Everything is checked here or, for checkpoints, before the
        first request.

        `before_commit`: an async callback given each page's new or changed events before the
        page is committed (at-least-once delivery; see the module docstring). Iterating the run
        raises `SyncError` at its end if feeds failed."""
        if before_commit is not None and not callable(before_commit):
            raise TypeError(f"before_commit: expected an async callable, got {type(before_commit).__name__}")
        selected, opts = self._walks(feeds, since, until, max_pages, strict, full, filters)
        run = SyncRun(selected, self.store, lambda: self._prepare(selected, opts), before_commit=before_commit)
        self.last_report = run.report
        return run

    def merged(
        self,
        feeds: Iterable[str] | None = None,
        since: TimeArg = None,
        *,
        until: TimeArg = None,
        max_pages: int | None = None,
        strict: bool = False,
        full: bool = False,
        filters: Filters | None = None,
    ) -> AsyncGenerator[LoanEvent, None]:
        """The selected feeds merged by ts, newest first (the order venues list them):
        a k-way merge of per-feed streams holding at most a few pages per feed. Options as
        `sync`; raises `SyncError` at the end if feeds failed."""
        selected, opts = self._walks(feeds, since, until, max_pages, strict, full, filters)
        return self._merged(selected, opts)

    async def _merged(
        self, selected: list[tuple[VenueClient, str]], opts: _Options
    ) -> AsyncGenerator[LoanEvent, None]:
        report = SyncReport([FeedReport(FeedKey(c.venue, c.account, f)) for c, f in selected])
        self.last_report = report
        jobs = await self._prepare(selected, opts)

        def ready(job: _Job) -> Callable[[], Awaitable[list[_Job]]]:
            async def prepared() -> list[_Job]:
                return [job]
            return prepared

        runs = [SyncRun([pair], self.store, ready(job), queue_pages=2, report=SyncReport([rep]))
                for pair, job, rep in zip(selected, jobs, report.feeds, strict=True)]
        heap: list[tuple[int, int, int, LoanEvent]] = []
        seq = 0
        errors: dict[FeedKey, Exception] = {}

        async def next_of(i: int) -> LoanEvent | None:
            try:
                return await anext(runs[i], None)
            except SyncError as exc:  # that feed failed: the others go on
                errors.update(exc.errors)
                return None

        try:
            for i in range(len(runs)):
                ev = await next_of(i)
                if ev is not None:
                    heap.append((-ev.ts, seq, i, ev))
                    seq += 1
            heapq.heapify(heap)
            while heap:
                _, _, i, ev = heapq.heappop(heap)
                yield ev
                nxt = await next_of(i)
                if nxt is not None:
                    heapq.heappush(heap, (-nxt.ts, seq, i, nxt))
                    seq += 1
        finally:
            for run in runs:
                await run.aclose()
        if errors:
            n = len(report.feeds)
            raise SyncError(
                f"{len(errors)} of {n} feed{'s' if n != 1 else ''} failed: "
                + "; ".join(f"{f.key}: {f.error}" for f in report.failed), errors, report=report,
            )

    def follow(
        self,
        interval: float = 30.0,
        feeds: Iterable[str] | None = None,
        since: TimeArg = None,
        *,
        until: TimeArg = None,
        max_pages: int | None = None,
        strict: bool = False,
        full: bool = False,
        filters: Filters | None = None,
    ) -> AsyncGenerator[LoanEvent, None]:
        """Poll forever: the first round syncs, later rounds yield only what is new or
        changed (pending -> done). Stops cleanly when the consuming task is cancelled.

        A round in which feeds failed only transiently (`is_transient`: rate limits, the venue
        unavailable, network failures, ...) is logged and counted (`FeedReport.failures`) and
        polling goes on; a permanent failure (authentication, a refused parameter, the store, a
        data gap under `strict`) raises `SyncError` after that round. `last_report` sums every
        round. Options as `sync`; `full=True` makes the first round a full walk."""
        wait = check_positive_number("interval", interval)
        selected, opts = self._walks(feeds, since, until, max_pages, strict, full, filters)
        return self._follow(wait, selected, opts)

    async def _follow(
        self, wait: float, selected: list[tuple[VenueClient, str]], opts: _Options
    ) -> AsyncGenerator[LoanEvent, None]:
        report = SyncReport([FeedReport(FeedKey(c.venue, c.account, f)) for c, f in selected])
        self.last_report = report
        first = True
        while True:
            round_opts = opts if first or not opts.full else _Options(
                opts.since, opts.until, opts.max_pages, opts.strict, False, opts.filters)
            first = False

            def prepare(o: _Options = round_opts) -> Awaitable[list[_Job]]:
                return self._prepare(selected, o)

            run = SyncRun(selected, self.store, prepare, report=report)
            try:
                async for ev in run:
                    yield ev
            except SyncError as exc:
                if not all(is_transient(e) for e in exc.exceptions):
                    raise
                for key, err in exc.errors.items():
                    log.warning("%s failed (transient, polling on): %s: %s", key, type(err).__name__, err)
            finally:
                await run.aclose()
            await asyncio.sleep(wait)

    # --- the books ----------------------------------------------------------------------

    async def balances(
        self,
        at: TimeArg = None,
        *,
        venue: str | None = None,
        account: str | None = None,
        currency: str | None = None,
        include_pending: bool = False,
    ) -> dict[BalanceKey, Balance]:
        """The three books per (venue, account, currency) as of `at` (default: everything
        stored), summed exactly: wallet change, debt, collateral and what interest cost."""
        until = to_ms("at", at)
        await self._open_store()
        return await self.store.balances(venue=venue, account=account, currency=currency, until=until,
                                         include_pending=include_pending)

    async def _stale(self, client: VenueClient, scope: Scope) -> int:
        """How many of the scope's settled borrow / repay events move the wallet but not the debt:
        every settled borrow and repay moves the debt (docs/EVENTS.md), so such an event was
        stored by a loanledger before 0.2 (its row got debt 0 when the ledger was upgraded in
        place). Only settled events count in the sums, so only they are looked at."""
        n = 0
        for f in scope.feeds:
            for kind in (EventKind.BORROW, EventKind.REPAY):
                async for ev in self.store.events(venue=client.venue, account=client.account, feed=f, kind=kind):
                    if ev.status is EventStatus.DONE and ev.debt == 0 and ev.amount != 0:
                        n += 1
        return n

    async def reconcile(self, feeds: Iterable[str] | None = None) -> ReconcileReport:
        """Compare the ledger's debt and collateral with each venue's own positions (see
        loanledger.reconcile): every currency matched, explained by a named residual, or
        reported as a difference. Run it after a sync: the ledger's sums are what was stored.

        `feeds` selects as `sync()` does (feed ids, venues, ``venue:account``, ...): a scope
        (a venue product with a position endpoint) is checked when any of its feeds is
        selected, summing every stored event of all its feeds. A scope one of whose feeds
        was never synced into this store is skipped (its sum could not be complete), as is a
        scope holding borrow / repay events stored before loanledger booked debt (a ledger
        upgraded in place from schema 1) and an account whose venue has no position loanledger
        reads: all are listed in `report.skipped` with the reason, never reported as matched. An account whose
        positions cannot be read, or that reports a scope its client does not declare, is
        an error in the report (the others are still checked)."""
        selected = self.select(feeds)
        await self._open_store()
        report = ReconcileReport()
        wanted: dict[tuple[str, str], set[str]] = {}
        for c, f in selected:
            wanted.setdefault((c.venue, c.account), set()).add(f)
        plan: list[tuple[VenueClient, list[Scope]]] = []
        for client in self.clients:
            label = f"{client.venue}:{client.account}"
            chosen = wanted.get((client.venue, client.account))
            if chosen is None:
                continue
            if not client.scopes:
                report.skipped[label] = "loanledger reads no position of this venue: nothing to compare"
                continue
            scopes: list[Scope] = []
            for scope in client.scopes.values():
                if not chosen & set(scope.feeds):
                    continue
                never = [f for f in scope.feeds
                         if await self.store.checkpoint(FeedKey(client.venue, client.account, f)) is None]
                if never:
                    report.skipped[f"{label}:{scope.id}"] = (
                        f"{', '.join(never)} never synced into this ledger: its sum could not be complete")
                    continue
                stale = await self._stale(client, scope)
                if stale:
                    report.skipped[f"{label}:{scope.id}"] = (
                        f"{stale} borrow/repay events were stored before loanledger booked debt (a ledger upgraded "
                        "from schema 1 keeps them as they were): sync into a new ledger to book them")
                    continue
                scopes.append(scope)
            if scopes:
                plan.append((client, scopes))
        read = await asyncio.gather(*(c.positions() for c, _ in plan), return_exceptions=True)
        for (client, scopes), positions in zip(plan, read, strict=True):
            label = f"{client.venue}:{client.account}"
            if isinstance(positions, BaseException):
                if not isinstance(positions, LoanLedgerError):
                    raise positions
                report.errors[label] = f"{type(positions).__name__}: {positions}"
                continue
            undeclared = sorted({p.scope for p in positions} - set(client.scopes))
            if undeclared:
                report.errors[label] = f"positions of undeclared scope(s) {', '.join(undeclared)}"
                continue
            for scope in scopes:
                done = await self.store.balances(venue=client.venue, account=client.account, feeds=scope.feeds)
                every = await self.store.balances(venue=client.venue, account=client.account, feeds=scope.feeds,
                                                  include_pending=True)
                computed = {k.currency: {Book.DEBT: b.debt, Book.COLLATERAL: b.collateral} for k, b in done.items()}
                pending: dict[str, dict[Book, Decimal]] = {}
                for k, b in every.items():
                    settled = done.get(k)
                    with decimal.localcontext(EXACT):
                        pending[k.currency] = {
                            Book.DEBT: b.debt - (settled.debt if settled else Decimal(0)),
                            Book.COLLATERAL: b.collateral - (settled.collateral if settled else Decimal(0)),
                        }
                report.checks += compare(client.venue, client.account, scope, positions, computed, pending)
        return report
