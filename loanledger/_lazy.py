"""Lazy public names for a package `__init__` (PEP 562): a name's module is imported on first use.

    __getattr__, __dir__ = lazy_exports(__name__, globals(), {".venues.okx": ("OKX", "HOSTS"), ...})

with the same names imported under ``if TYPE_CHECKING:`` so type checkers and IDEs
see them. A resolved name is stored in the package's namespace, so later lookups are
plain attribute reads. `submodules` are the package's public submodules reachable as
attributes (``loanledger.events``) without an import statement.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str,
    namespace: dict[str, Any],
    exports: Mapping[str, Sequence[str]],
    submodules: Iterable[str] = (),
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of `package`: `exports` maps each (relative) module
    to the public names it defines."""
    table = {name: module for module, names in exports.items() for name in names}
    if len(table) != sum(map(len, exports.values())):
        raise RuntimeError(f"{package}: a lazy name is listed under two modules")  # pragma: no cover
    modules = frozenset(submodules)

    def __getattr__(name: str) -> Any:
        where = table.get(name)
        if where is not None:
            value = getattr(importlib.import_module(where, package), name)
        elif name in modules:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | table.keys() | modules)

    return __getattr__, __dir__
