"""Registry adapters by name: an explicit table ``name -> "module:Class"``, imported lazily.

Importing this module imports no adapter, so choosing ``sql`` never loads httpx.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any

from registry_adapters.base import RegistryAdapter

#: Every implemented adapter. Add a line here when an adapter lands; nothing registers itself.
ADAPTERS: dict[str, str] = {
    "sql": "registry_adapters.sql:SqlRegistryAdapter",
    "http": "registry_adapters.http:HttpRegistryAdapter",
}


def adapter_names() -> list[str]:
    """The registered adapter names, sorted."""
    return sorted(ADAPTERS)


def resolve_adapter_class(name: str) -> type:
    """The class registered as ``name``.

    Raises:
        ValueError: ``name`` is not registered; the message lists valid names and the closest one.
    """
    target = ADAPTERS.get(name) if isinstance(name, str) else None
    if target is None:
        valid = adapter_names()
        close = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown registry adapter {name!r}: expected one of {valid}{hint}")
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def create_adapter(name: str, **options: Any) -> RegistryAdapter:
    """Build the adapter registered as ``name`` with its keyword ``options``.

    Example:
        ``create_adapter("sql", url="sqlite:///registry.sqlite", recorder=recorder)``

    Raises:
        ValueError: unknown ``name`` (with a did-you-mean) or a bad option value.
        TypeError: an option the adapter does not take.
    """
    return resolve_adapter_class(name)(**options)
