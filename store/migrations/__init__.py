"""Alembic environment and revisions (see docs/storage.md)."""
