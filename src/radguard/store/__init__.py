"""The one store every producer writes to and every consumer reads from.

SQLite by default (a file in the user data directory); any SQLAlchemy URL via
``RADGUARD_DB`` (PostgreSQL: ``postgresql+psycopg://user@host/db``). The schema
is managed by Alembic migrations shipped in ``store/migrations`` and brought to
head on open.
"""

from radguard.store.api import RunHandle, RunInfo, Store, default_url, open_store

__all__ = ["RunHandle", "RunInfo", "Store", "default_url", "open_store"]
