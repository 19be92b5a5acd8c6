"""A lazy plugin table: ``name -> "module:Class"``, imported only when a name is resolved.

Shared by the detector and registry-adapter registries (kombu keeps its transports the same
way), so importing a registry imports no backend and a bad name gets the same "did you mean".
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping


class LazyRegistry:
    """Resolves registered names to classes, importing each class's module on first use.

    Attributes:
        kind: what the table holds, for error messages, e.g. ``"detector"``.
        table: ``name -> "module:Class"``; held by reference, so it is the single source of truth.
    """

    def __init__(self, kind: str, table: Mapping[str, str]) -> None:
        self.kind = kind
        self.table = table

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self.table)

    def resolve(self, name: str) -> type:
        """The class registered as ``name``.

        Raises:
            ValueError: ``name`` is not registered; the message lists valid names and the
                closest one.
        """
        target = self.table.get(name) if isinstance(name, str) else None
        if target is None:
            valid = self.names()
            close = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown {self.kind} {name!r}: expected one of {valid}{hint}")
        module_name, _, class_name = target.partition(":")
        return getattr(importlib.import_module(module_name), class_name)
