"""Every module that declares tables on ``store.schema.Base``, in one place.

Alembic's environment, ``init_db`` and the schema check import the models through
:func:`load_all_models`, so a table is known to migrations exactly when its module is listed
here. Add a new models module to ``SCHEMA_MODULES`` (and a revision for its tables; see
docs/storage.md).
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

SCHEMA_MODULES: tuple[str, ...] = (
    "store.schema",
    "exchange.schema",
    "notices.models",
    "workers.live_models",
    "workers.models",
    "web.models",
    "registry_adapters.models",
)


def load_all_models() -> MetaData:
    """Import every module in ``SCHEMA_MODULES`` and return the shared metadata.

    Returns:
        ``store.schema.Base.metadata`` with every listed module's tables registered on it.
    """
    for name in SCHEMA_MODULES:
        importlib.import_module(name)
    from store.schema import Base

    return Base.metadata
