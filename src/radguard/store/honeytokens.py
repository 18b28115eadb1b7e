"""Honeytoken UIDs: where they are recorded and where the gateway and the monitor read them.

A honeytoken is a synthetic study (never a real patient) whose Study, Series and SOP Instance UIDs no
legitimate user ever asks for: ``radguard decoy plant`` stores such studies in the real PACS and
``radguard decoy`` serves its own. Their UIDs are recorded twice:

- in the store, as assets of kind :data:`ASSET_KIND` of a run of kind ``decoy-plant`` or ``decoy``
  (:func:`record`, :func:`load`): the durable record, with who planted what where;
- in a plain text file, one UID a line (:func:`honeytoken_file`: ``RADGUARD_HONEYTOKENS``, else
  ``honeytokens.txt`` in the user data directory beside the store), which the gateway and the monitor
  read at start-up without opening the database (:func:`read_file`).

No PHI is involved: the UIDs are generated under a radguard root (:mod:`radguard.policy.honeytokens`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radguard.models import Asset

if TYPE_CHECKING:
    from radguard.store.api import RunHandle, Store

#: asset kind of a honeytoken UID in the store
ASSET_KIND = "honeytoken"
#: run kinds that record honeytokens
RUN_KINDS: tuple[str, ...] = ("decoy-plant", "decoy")
#: environment variable naming the honeytoken file
ENV_FILE = "RADGUARD_HONEYTOKENS"
FILE_NAME = "honeytokens.txt"
#: longest UID (PS3.5 §9.1); anything longer in the file is not a UID and is skipped
MAX_UID = 64


def honeytoken_file() -> Path:
    """``$RADGUARD_HONEYTOKENS``, else ``honeytokens.txt`` in the user data directory."""
    env = os.environ.get(ENV_FILE)
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("radguard", appauthor=False)) / FILE_NAME


def _is_uid(text: str) -> bool:
    return 0 < len(text) <= MAX_UID and all(c.isdigit() or c == "." for c in text)


def read_file(path: Path | None = None) -> frozenset[str]:
    """The UIDs of the honeytoken file (an absent or unreadable file: none; lines that are not UIDs are skipped)."""
    try:
        text = (path or honeytoken_file()).read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    return frozenset(line.strip() for line in text.splitlines() if _is_uid(line.strip()))


def append_file(uids: Iterable[str], path: Path | None = None) -> Path:
    """Add ``uids`` to the honeytoken file (owner-only permissions; existing UIDs are kept once)."""
    target = path or honeytoken_file()
    known = read_file(target)
    new = sorted({u for u in uids if _is_uid(u)} - known)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="ascii") as fh:
        fh.writelines(u + "\n" for u in new)
    return target


def add(run: RunHandle, uids: Mapping[str, Mapping[str, Any]]) -> None:
    """Record honeytoken UIDs (UID -> attributes: level, study, where planted) as assets of ``run`` (a run of
    one of :data:`RUN_KINDS`)."""
    run.add_assets(Asset(kind=ASSET_KIND, target=uid, attributes=dict(attrs)) for uid, attrs in uids.items())


def load(store: Store) -> dict[str, dict[str, Any]]:
    """Every honeytoken UID the store recorded: UID -> its attributes (and ``run``, the run that recorded it)."""
    from sqlalchemy import select  # here, not at the top: read_file() serves every `radguard pcap` start-up

    from radguard.store.schema import AssetRow, Run

    with store.session() as s:
        rows = s.execute(select(AssetRow.target, AssetRow.attributes, AssetRow.run_id)
                         .join(Run, Run.id == AssetRow.run_id)
                         .where(AssetRow.kind == ASSET_KIND, Run.kind.in_(RUN_KINDS)))
        return {str(uid): {**dict(attrs or {}), "run": int(run_id)} for uid, attrs, run_id in rows}
