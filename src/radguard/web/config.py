"""Settings of one console process (``radguard web`` options)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


def default_data_dir() -> Path:
    """The user data directory radguard keeps its store, keys and audit files in."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("radguard", appauthor=False))


@dataclass(frozen=True, kw_only=True, slots=True)
class WebConfig:
    """What the console needs to know; the defaults are the safe ones.

    Attributes
    ----------
    data_dir : Path
        Holds the session key (``web-session.key``, 0600) and the default audit file.
    store_url : str, optional
        SQLAlchemy URL of the store (default: ``RADGUARD_DB`` or the SQLite file in the data directory).
    tls : bool
        Served over TLS: cookies get ``Secure`` and the ``__Host-`` prefix, responses get HSTS.
    gateway_configs : tuple of Path
        ``gateway.toml`` files of the gateways to show and contain.
    audit_file : Path, optional
        JSON Lines audit trail of the console (default ``<data_dir>/web-audit.jsonl``).
    audit_syslog : str, optional
        ``udp://``, ``tcp://`` or ``tls://HOST:PORT`` of an ATNA syslog collector (RFC 5424/5425).
    session_minutes : int
        Lifetime of a session (45 CFR 164.312(a)(2)(iii) automatic logoff).
    login_window_seconds, login_max_failures_per_client : int
        Rate limit: a client with this many failed logins within the window gets 429 until it ages out.
    lock_after_failures, lock_minutes : int
        Lockout: an account is locked for ``lock_minutes`` after this many consecutive failures.
    """

    data_dir: Path = field(default_factory=default_data_dir)
    store_url: str | None = None
    tls: bool = False
    gateway_configs: tuple[Path, ...] = ()
    audit_file: Path | None = None
    audit_syslog: str | None = None
    session_minutes: int = 480
    login_window_seconds: int = 300
    login_max_failures_per_client: int = 10
    lock_after_failures: int = 5
    lock_minutes: int = 15
    page_size: int = 50

    @property
    def audit_path(self) -> Path:
        return self.audit_file or self.data_dir / "web-audit.jsonl"
