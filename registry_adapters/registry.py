"""Registry adapters by name: an explicit table ``name -> "module:Class"``, imported lazily.

Importing this module imports no adapter, so choosing ``sql`` never loads httpx.
"""

from __future__ import annotations

from typing import Any

from registry_adapters.base import RegistryAdapter
from safecity.plugins import LazyRegistry

#: Every implemented adapter. Add a line here when an adapter lands; nothing registers itself.
ADAPTERS: dict[str, str] = {
    "sql": "registry_adapters.sql:SqlRegistryAdapter",
    "http": "registry_adapters.http:HttpRegistryAdapter",
}

_REGISTRY = LazyRegistry("registry adapter", ADAPTERS)


def adapter_names() -> list[str]:
    """The registered adapter names, sorted."""
    return _REGISTRY.names()


def resolve_adapter_class(name: str) -> type:
    """The class registered as ``name``.

    Raises:
        ValueError: ``name`` is not registered; the message lists valid names and the closest one.
    """
    return _REGISTRY.resolve(name)


def create_adapter(name: str, **options: Any) -> RegistryAdapter:
    """Build the adapter registered as ``name`` with its keyword ``options``.

    Example:
        ``create_adapter("sql", url="sqlite:///registry.sqlite", recorder=recorder)``

    Raises:
        ValueError: unknown ``name`` (with a did-you-mean) or a bad option value.
        TypeError: an option the adapter does not take.
    """
    return resolve_adapter_class(name)(**options)
