"""Reliability tests: the figures they collect are printed at the end of the run (and written
to $LOANLEDGER_RELIABILITY_FIGURES as JSON when set; docs/RELIABILITY.md quotes them)."""

from __future__ import annotations

from typing import Any

import pytest
from rel_support import FIGURES, Figures


@pytest.fixture
def figures() -> Figures:
    return FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not (FIGURES.counts or FIGURES.faults):
        return
    terminalreporter.section("reliability figures")
    for name, value in sorted(FIGURES.counts.items()):
        terminalreporter.write_line(f"{name:<48} {value:>9}")
    if FIGURES.faults:
        terminalreporter.write_line("faults and rate-limit answers the simulator gave:")
        for name, value in sorted(FIGURES.faults.items()):
            terminalreporter.write_line(f"  {name:<46} {value:>9}")
    FIGURES.write()
