"""The data holder's vehicle registry: adapter protocol, SQL and HTTP adapters, service, checks.

Entry point: :func:`registry_adapters.registry.create_adapter` (``"sql"`` or ``"http"``).
"""
