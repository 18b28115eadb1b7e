"""Alembic environment: runs against the connection handed over by radguard.store."""

from __future__ import annotations

from alembic import context

from radguard.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI directly
    raise SystemExit("run migrations through radguard (radguard.store.open_store)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
