"""The package's layout: the public surface, light imports, no import cycles.

- `loanledger.__all__` is pinned, and every public name (root and public submodules) resolves.
- `import loanledger` loads nothing heavy; `decode`, `LoanEvent`, `FEEDS` and the clients
  never load aiohttp (checked in fresh interpreters).
- The module-level import graph of loanledger/ is acyclic, and nothing outside
  loanledger/testing/ imports the simulator at module level.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import loanledger

PACKAGE = Path(loanledger.__file__).resolve().parent
BENCH = PACKAGE.parent / "benchmarks"

#: the root's public names, exactly (adding or removing one is an API change: README, CHANGELOG)
ROOT_ALL = [
    "FEEDS", "OKX", "AmbiguousOutcome", "AuthError", "BadRequest", "Balance", "BalanceKey", "Binance",
    "Bybit", "CheckpointConflict", "ClientClosed", "ClockSkewError", "ConnectError", "DataGapWarning",
    "DecodeError", "EventKind", "EventStatus", "Feed", "FeedKey", "FeedPage", "FeedReport", "FeedSpec",
    "InvalidArgument", "Ledger", "LegacyLoanableCoin", "LoanEvent", "LoanLedgerError", "LoanableCoin",
    "MemoryStore", "PaginationError", "PmLoanAmount", "PostgresStore", "RateLimited", "RateLimits",
    "RequestTimeout", "RetryPolicy", "SQLiteStore", "Store", "StoreError", "SyncReport", "TransportError",
    "VenueError", "VenueUnavailable", "__version__", "decode", "open_store",
    "Book", "Check", "Position", "ReconcileReport", "Residual", "Scope", "Verdict",
]

#: modules whose names are internal (underscored, or listed as internal in docs/ARCHITECTURE.md)
INTERNAL = {"loanledger.__main__"}

HEAVY = ("aiohttp", "aiosqlite", "psycopg", "rich", "cryptography", "yarl", "loanledger.testing")


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    out: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_public(name: str) -> bool:
    return name not in INTERNAL and not any(part.startswith("_") for part in name.split(".")[1:])


# --- the public surface ----------------------------------------------------------------------------


def test_root_all_is_pinned() -> None:
    assert sorted(loanledger.__all__) == sorted(ROOT_ALL)
    assert len(set(loanledger.__all__)) == len(loanledger.__all__)


def test_every_root_name_resolves_and_dir_lists_it() -> None:
    pytest.importorskip("psycopg")  # PostgresStore needs the `postgres` extra
    for name in loanledger.__all__:
        assert getattr(loanledger, name) is not None, name
    assert set(loanledger.__all__) <= set(dir(loanledger))
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchName'"):
        loanledger.NoSuchName  # type: ignore[attr-defined]  # noqa: B018


def test_root_names_are_the_objects_of_their_modules() -> None:
    from loanledger.events import LoanEvent
    from loanledger.registry import decode
    from loanledger.store.memory import MemoryStore
    from loanledger.venues.okx import OKX

    assert (loanledger.LoanEvent, loanledger.decode, loanledger.MemoryStore, loanledger.OKX) == (
        LoanEvent, decode, MemoryStore, OKX)
    assert loanledger.events is importlib.import_module("loanledger.events")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _is_public(m)))
def test_each_public_module_declares_all_and_its_names_exist(module: str) -> None:
    if module.endswith(".postgres") and module.startswith("loanledger.store"):
        pytest.importorskip("psycopg")
    mod = importlib.import_module(module)
    names = getattr(mod, "__all__", None)
    assert isinstance(names, list | tuple), f"{module} has no __all__"
    assert len(set(names)) == len(names), f"{module}.__all__ repeats a name"
    for name in names:
        assert getattr(mod, name, None) is not None, f"{module}.{name}"


# --- light imports -----------------------------------------------------------------------------------


def _fresh(code: str) -> None:
    """Run `code` in a fresh interpreter (nothing imported yet); it asserts."""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent, timeout=120)


def test_import_loanledger_loads_only_the_package() -> None:
    _fresh(
        "import sys, loanledger\n"
        "mine = sorted(m for m in sys.modules if m.startswith('loanledger'))\n"
        "assert mine == ['loanledger', 'loanledger._lazy'], mine\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )


def test_decode_on_every_feed_loads_no_http_store_or_simulator() -> None:
    _fresh(
        "import sys\n"
        f"sys.path.insert(0, {str(BENCH)!r})\n"
        "import loanledger\n"
        "from loanledger import FEEDS, LoanEvent, decode\n"
        "import data\n"  # benchmarks/data.py: realistic pages of every feed, msgspec only
        "for feed in FEEDS:\n"
        "    events = loanledger.decode(feed, data.page_body(feed, 0))\n"
        "    assert events and all(isinstance(e, LoanEvent) for e in events), feed\n"
        "assert decode is loanledger.decode and loanledger.events.LoanEvent is LoanEvent\n"
        f"heavy = [m for m in {HEAVY!r} + ('aiolimiter', 'loanledger.ledger', 'loanledger.store') "
        "if m in sys.modules]\n"
        "assert heavy == ['aiolimiter'], heavy\n"  # the venue modules' limits; no HTTP, store or simulator
    )


def test_clients_load_aiohttp_on_their_first_request_only() -> None:
    _fresh(
        "import asyncio, sys\n"
        "from loanledger import OKX, Binance, Bybit\n"
        "clients = [OKX('k', 's', 'p'), Binance('k', 's'), Bybit('k', 's')]\n"
        "assert 'aiohttp' not in sys.modules and 'cryptography' not in sys.modules\n"
        "async def main():\n"
        "    for c in clients:\n"
        "        await c.close()\n"
        "asyncio.run(main())\n"
        "assert 'aiohttp' not in sys.modules\n"  # closed before any request: nothing was loaded
        "from loanledger.testing import MockSender\n"
        "assert 'aiohttp' not in sys.modules, 'MockSender loads aiohttp'\n"
    )
    _fresh(
        "import asyncio, sys\n"
        "from loanledger import OKX, ConnectError, RetryPolicy\n"
        "async def main():\n"
        "    async with OKX('k', 's', 'p', base_url='http://127.0.0.1:9', retry=RetryPolicy(max_attempts=1)) as okx:\n"
        "        try:\n"
        "            await okx.server_time()\n"  # port 9 (discard) is closed on loopback: refused
        "        except ConnectError as exc:\n"
        "            assert exc.before_send\n"
        "        assert 'aiohttp' in sys.modules and type(okx.transport.sender).__name__ == 'AiohttpSender'\n"
        "asyncio.run(main())\n"
    )


def test_the_cli_version_and_feeds_load_no_http_store_or_console() -> None:
    _fresh(
        "import sys, contextlib, io\n"
        "from loanledger.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    assert main(['feeds']) == 0\n"
        "assert 'okx.flexible_loan_history' in out.getvalue()\n"
        f"heavy = [m for m in {HEAVY!r} + ('loanledger.ledger', 'loanledger._console', 'loanledger.store.sqlite') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )


# --- the import graph ------------------------------------------------------------------------------------


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports run when the module is imported: at top level, in if/try/with blocks and class
    bodies; not in functions, nor under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.append(node)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                    visit(block)
            elif isinstance(node, ast.With | ast.ClassDef):
                visit(node.body)

    visit(tree.body)
    return found


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The loanledger modules an import statement imports (and so runs)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in MODULES}
    if node.level:
        package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    out = {base} if base in MODULES else set()
    out |= {f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES}
    return out


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph[module] = set()
        for node in _module_level_imports(tree):
            graph[module] |= _targets(module, node) - {module}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := walk(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := walk(node)) is not None:
            return found
    return None


def test_the_graph_sees_the_imports_it_must() -> None:
    graph = _graph()
    assert "loanledger.transport" in graph["loanledger.client"]
    assert "loanledger.paginate.cursors" in graph["loanledger.feeds"]  # from .paginate.cursors import ...
    assert "loanledger.testing.okx_data" in graph["loanledger.testing.okx"]  # from . import okx_data
    assert "loanledger._aiohttp" not in graph["loanledger.transport"]  # inside a function: lazy
    assert "loanledger.testing.simulator" not in graph["loanledger.demo"]  # inside run_demo / TYPE_CHECKING
    # the detector finds a planted cycle
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]


def test_no_import_cycles() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_nothing_outside_testing_imports_the_simulator_at_module_level() -> None:
    graph = _graph()
    offenders = {
        module: sorted(t for t in targets if t == "loanledger.testing" or t.startswith("loanledger.testing."))
        for module, targets in graph.items()
        if not (module == "loanledger.testing" or module.startswith("loanledger.testing."))
    }
    assert {m: t for m, t in offenders.items() if t} == {}


def test_the_simulator_core_names_no_venue() -> None:
    graph = _graph()
    core = graph["loanledger.testing.server"]
    assert not core & {"loanledger.testing.okx", "loanledger.testing.binance", "loanledger.testing.bybit"}
    source = (PACKAGE / "testing" / "server.py").read_text(encoding="utf-8").lower()
    for venue in ("okx", "binance", "bybit", "/api/v5", "/sapi/", "/v5/"):
        assert venue not in source, venue
