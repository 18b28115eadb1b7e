"""Containment state: what is shut out, by whom and since when, kept across restarts (issue 16 item 6).

Incident response (NIST SP 800-61r2 §3.3.1; 45 CFR 164.308(a)(6)(ii)) must not be undone by a restart:
every change is written to the state file next to the control socket (``[gateway] control`` with the
suffix ``.state``, mode 0600, via a temporary file, fsync and rename, so a crash leaves the old or the
new state, never half of one), and the gateway reads it back before it listens. A state file that is
not the gateway's own (another owner, readable or writable by others, a symbolic link) or does not
parse is an error that stops the start: containment is never dropped silently (fail closed).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from radguard.errors import ConfigError

SCHEMA = "radguard.containment/1"
#: what a hold can be (``release`` removes holds)
KINDS = ("peer", "read-only", "downtime")
#: a state file larger than this is not ours
MAX_STATE_BYTES = 1 << 20
_MAX_NAME = 64


@dataclass(frozen=True, slots=True)
class Hold:
    """One containment in force: ``kind`` (``peer``, ``read-only``, ``downtime``), scoped to ``peer`` or not.

    ``by`` is the OS user who asked (the control socket's peer credentials), ``console_user`` the
    console user named by the web console, ``at`` when (ISO 8601, UTC).
    """

    kind: str
    peer: str | None
    by: str
    at: str
    console_user: str | None = None

    @property
    def who(self) -> str:
        """``alice (console, as radguard)`` or ``root``."""
        return f"{self.console_user} (console, as {self.by})" if self.console_user else self.by

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "peer": self.peer, "by": self.by, "console_user": self.console_user,
                "at": self.at}


@dataclass
class Containment:
    """Live containment state: the holds, and the views the addons read (``peers``, ``read_only``, ...)."""

    holds: dict[tuple[str, str | None], Hold] = field(default_factory=dict)
    peers: frozenset[str] = frozenset()
    read_only: bool = False
    read_only_peers: frozenset[str] = frozenset()
    downtime: bool = False

    def __post_init__(self) -> None:
        self._sync()

    def _sync(self) -> None:
        keys = self.holds.keys()
        self.peers = frozenset(p for k, p in keys if k == "peer" and p)
        self.read_only = ("read-only", None) in keys
        self.read_only_peers = frozenset(p for k, p in keys if k == "read-only" and p)
        self.downtime = ("downtime", None) in keys

    def apply(self, action: str, peer: str | None, by: str, console_user: str | None = None) -> None:
        """Add a hold (``peer``, ``read-only``, ``downtime``) or remove some (``release``: all, or ``peer``'s).

        A hold already in force keeps its original who and when (the start of the containment).
        """
        if action == "release":
            if peer:
                self.holds.pop(("peer", peer), None)
                self.holds.pop(("read-only", peer), None)
            else:
                self.holds.clear()
        elif action in KINDS:
            if action == "peer" and not peer:
                raise ValueError("--peer needs an AE title")
            key = (action, None if action == "downtime" else peer)
            if key not in self.holds:
                at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
                self.holds[key] = Hold(action, key[1], by, at, console_user)
        else:
            raise ValueError(f"unknown containment action {action!r}")
        self._sync()

    def is_read_only(self, ae: str) -> bool:
        return self.read_only or ae in self.read_only_peers

    def to_dict(self) -> dict[str, Any]:
        return {"peers": sorted(self.peers), "read_only": self.read_only,
                "read_only_peers": sorted(self.read_only_peers), "downtime": self.downtime,
                "holds": [h.to_dict() for h in self.holds.values()]}


def state_path(control: Path) -> Path:
    """The state file of the control socket ``control`` (``run/gateway.sock`` -> ``run/gateway.state``)."""
    return control.with_suffix(".state")


class StateFile:
    """Read and write the containment state file (fail closed on anything that is not ours)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _bad(self, reason: str) -> ConfigError:
        return ConfigError(f"containment state {self.path}: {reason}; the gateway does not start without its "
                           "containment (check the file, then fix or remove it)")

    def load(self) -> Containment:
        """The saved containment (empty when there is no file); ConfigError for a file that is not ours."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return Containment()
        except OSError as exc:
            reason = "a symbolic link" if os.path.islink(self.path) else f"cannot read it ({exc.strerror})"
            raise self._bad(reason) from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise self._bad("not a regular file")
        with os.fdopen(fd, "rb") as fh:
            if st.st_uid != os.geteuid():
                raise self._bad(f"owned by uid {st.st_uid}, not by the gateway's user (uid {os.geteuid()})")
            if st.st_mode & 0o077:
                raise self._bad(f"mode {stat.S_IMODE(st.st_mode):04o}, must be 0600 (the gateway's alone)")
            data = fh.read(MAX_STATE_BYTES + 1)
        if len(data) > MAX_STATE_BYTES:
            raise self._bad(f"larger than {MAX_STATE_BYTES} bytes")
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise self._bad(f"not JSON ({type(exc).__name__})") from None
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("holds"), list):
            raise self._bad(f"not a {SCHEMA} document")
        cont = Containment()
        for i, raw in enumerate(doc["holds"]):
            hold = _hold(raw)
            if hold is None:
                raise self._bad(f"holds[{i}] is not a valid hold")
            cont.holds[(hold.kind, hold.peer)] = hold
        cont._sync()
        return cont

    def save(self, containment: Containment) -> None:
        """Write ``containment`` atomically: temporary file (0600), fsync, rename, fsync of the directory."""
        text = json.dumps({"schema": SCHEMA, "holds": [h.to_dict() for h in containment.holds.values()]},
                          indent=1)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _name(value: object, *, limit: int = _MAX_NAME) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit and value.isprintable()


def _hold(raw: object) -> Hold | None:
    """A :class:`Hold` from its saved form, or None if anything in it is off."""
    if not isinstance(raw, dict) or set(raw) != {"kind", "peer", "by", "console_user", "at"}:
        return None
    kind, peer, by, console, at = raw["kind"], raw["peer"], raw["by"], raw["console_user"], raw["at"]
    if kind not in KINDS or not _name(by) or not _name(at) or (console is not None and not _name(console)):
        return None
    if kind == "downtime":
        if peer is not None:
            return None
    elif kind == "peer" and peer is None:
        return None
    if peer is not None and (not _name(peer, limit=16) or "\\" in peer):
        return None
    try:
        datetime.fromisoformat(at)
    except ValueError:
        return None
    return Hold(kind, peer, by, at, console)
