"""One writer process of the cross-process race (test_store_postgres.py): opens the ledger,
waits for the common start time, then commits ROUNDS pages of one feed, each with the
checkpoint it just read as `expected`; prints its wins and conflicts as JSON."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from decimal import Decimal

from loanledger import CheckpointConflict, EventKind, EventStatus, FeedKey, LoanEvent, PostgresStore

KEY = FeedKey("bybit", "desk", "bybit.flexible_repayment_history")


async def main(dsn: str, name: str, start_at: float, rounds: int) -> None:
    wins: list[dict[str, object]] = []
    conflicts = 0
    async with PostgresStore(dsn, pool_size=1) as store:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        for i in range(rounds):
            token = await store.checkpoint(KEY)
            page = [LoanEvent(venue="bybit", account="desk", feed=KEY.feed, id=f"{name}:{i}:{j}", kind=EventKind.REPAY,
                              status=EventStatus.DONE, ts=1_742_000_000_000 + i * 10 + j, currency="USDT",
                              amount=Decimal("-12.5"), debt=Decimal("-12.5"), venue_type="1")
                    for j in range(10)]
            new = f"{name}:{i}"
            try:
                await store.commit_page(KEY, page, new, expected=token)
            except CheckpointConflict:
                conflicts += 1
                continue
            wins.append({"expected": token, "new": new, "ids": [e.id for e in page]})
    print(json.dumps({"wins": wins, "conflicts": conflicts}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])))
