"""The one store every producer writes to and every consumer reads from.

SQLite by default (a file in the user data directory); any SQLAlchemy URL via
``RADGUARD_DB`` (PostgreSQL: ``postgresql+psycopg://user@host/db``). The schema
is managed by Alembic migrations shipped in ``store/migrations`` and brought to
head on open.

The names below are loaded on first use (PEP 562): importing this package, or its SQLAlchemy-free
:mod:`radguard.store.lite`, does not import SQLAlchemy (about 0.25 s of every command's start-up).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from radguard.store.api import RunHandle, RunInfo, Store, default_url, open_store

__all__ = ["RunHandle", "RunInfo", "Store", "default_url", "open_store"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from radguard.store import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
