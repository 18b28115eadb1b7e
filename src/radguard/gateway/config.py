"""``gateway.toml``: the gateway configuration, loaded with clear errors (see docs/gateway.md).

Relative paths are relative to the directory of the configuration file. Every key is documented
in docs/gateway.md with whether it is required and its default; unknown keys are errors (a typo
in a security policy must not silently weaken it).
"""

from __future__ import annotations

import enum
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radguard.errors import ConfigError
from radguard.gateway.hosts import check_host
from radguard.hostport import parse_host_port

#: DIMSE services a ``[[peer]] allow`` list may name (PS3.7 §9, §10).
SERVICES: frozenset[str] = frozenset(
    {"C-ECHO", "C-STORE", "C-FIND", "C-MOVE", "C-GET", "N-EVENT-REPORT", "N-GET", "N-SET", "N-ACTION", "N-CREATE",
     "N-DELETE"}
)

#: a UID: dot-separated numbers, at most 64 characters (PS3.5 §9.1)
_UID = re.compile(r"(?=.{1,64}$)(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")


class InspectAction(enum.StrEnum):
    """What the inspection addon does with a data set that has a finding of a kind."""

    REJECT = "reject"  # refuse the C-STORE (failure status), nothing goes upstream
    QUARANTINE = "quarantine"  # keep it in the quarantine folder, not upstream; the client sees a failure
    ALERT = "alert"  # pass it upstream and raise a security alert
    PASS = "pass"  # pass, only counted


class StoreLevel(enum.StrEnum):
    """``[audit] store``: which audit records also go to the radguard store as events."""

    ALL = "all"
    ALERTS = "alerts"  # security alerts and failed outcomes (the routine transfers stay in file/syslog)
    NONE = "none"


def default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("radguard", appauthor=False))


@dataclass(frozen=True, slots=True)
class PeerConfig:
    """One ``[[peer]]``: an AE title bound to source hosts, with the DIMSE services it may use."""

    ae: str
    hosts: tuple[str, ...]
    allow: frozenset[str]
    port: int | None = None
    move_destinations: tuple[str, ...] = ()
    #: SOP class UIDs its requests may name (empty: any); the ``sop_classes`` addon enforces them
    sop_classes: frozenset[str] = frozenset()
    #: per-peer association and DIMSE request rates (None: only ``[limits]``); the ``peer_rate`` addon
    associations_per_minute: int | None = None
    requests_per_minute: int | None = None


@dataclass(frozen=True, slots=True)
class InspectionConfig:
    """``[inspection]``: archive checks on every C-STORE data set (issue 5 defaults)."""

    enabled: bool = True
    executable: InspectAction = InspectAction.REJECT
    active_content: InspectAction = InspectAction.REJECT
    malformed: InspectAction = InspectAction.REJECT  # issue 16 item 7: never forward what the PACS cannot parse
    other: InspectAction = InspectAction.ALERT
    quarantine: Path = Path("quarantine")


@dataclass(frozen=True, slots=True)
class AuditConfig:
    """``[audit]``: JSON Lines file, syslog collector, PHI handling."""

    file: Path | None = None
    syslog: str | None = None
    include_patient_id: bool = False
    secret_file: Path | None = None
    spool: Path = Path("audit-spool")
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    site_id: str | None = None
    store: StoreLevel = field(default_factory=lambda: StoreLevel.ALERTS)


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    """``[limits]``: per-peer and global guards."""

    associations_per_minute: int = 120
    max_associations: int = 200
    max_pending_per_host: int = 32
    max_pdu_length: int = 1_048_576
    connect_timeout: float = 10.0
    idle_timeout: float = 300.0


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """The whole gateway configuration (``[gateway]``, ``[[peer]]``, ``[limits]``, ``[inspection]``, ``[audit]``)."""

    upstream: tuple[str, int]
    upstream_ae: str
    ae_title: str
    listen: tuple[str, int] | None = None
    listen_tls: tuple[str, int] | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    control: Path = field(default_factory=lambda: default_data_dir() / "gateway.sock")
    token_file: Path | None = None
    spool: Path = Path("spool")
    peers: Mapping[str, PeerConfig] = field(default_factory=dict)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    inspection: InspectionConfig = field(default_factory=InspectionConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    source: Path | None = None
    warnings: tuple[str, ...] = ()

    @property
    def control_token(self) -> Path:
        """The token file next to the control socket unless set (``[gateway] token_file``)."""
        return self.token_file or self.control.with_suffix(".token")

    def peer_for_port_ae(self, called_ae: str) -> PeerConfig | None:
        """The ``[[peer]]`` with a ``port`` whose AE is ``called_ae`` (C-MOVE sub-operations)."""
        p = self.peers.get(called_ae)
        return p if p is not None and p.port is not None else None


# ---------------------------------------------------------------- parsing helpers

class _Section:
    """Typed access to one TOML table, with the section name in every error."""

    def __init__(self, name: str, data: Any, base: Path) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"[{name}] must be a table")
        self.name, self.data, self.base = name, dict(data), base
        self.used: set[str] = set()

    def _get(self, key: str, required: bool) -> Any:
        self.used.add(key)
        if key not in self.data:
            if required:
                raise ConfigError(f"[{self.name}] {key} is required")
            return None
        return self.data[key]

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        v = self._get(key, required)
        if v is None:
            return default
        if not isinstance(v, str) or not v.strip():
            raise ConfigError(f"[{self.name}] {key} must be a non-empty string")
        return v.strip()

    def ae(self, key: str, *, required: bool = False) -> str | None:
        v = self.text(key, required=required)
        if v is not None and (len(v) > 16 or "\\" in v or not v.isprintable()):
            raise ConfigError(f"[{self.name}] {key} = {v!r} is not a valid AE title (1-16 printable characters)")
        return v

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        v = self._get(key, False)
        if v is None:
            return default
        if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
            raise ConfigError(f"[{self.name}] {key} must be an integer >= {minimum}")
        return v

    def number(self, key: str, default: float) -> float:
        v = self._get(key, False)
        if v is None:
            return default
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0:
            raise ConfigError(f"[{self.name}] {key} must be a positive number")
        return float(v)

    def flag(self, key: str, default: bool) -> bool:
        v = self._get(key, False)
        if v is None:
            return default
        if not isinstance(v, bool):
            raise ConfigError(f"[{self.name}] {key} must be true or false")
        return v

    def path(self, key: str, default: Path | None = None) -> Path | None:
        v = self.text(key)
        if v is None:
            return None if default is None else (default if default.is_absolute() else self.base / default)
        try:
            p = Path(v).expanduser()
        except RuntimeError:  # "~name/..." of a user this machine does not know
            raise ConfigError(f"[{self.name}] {key} = {v!r}: no such user's home directory") from None
        return p if p.is_absolute() else self.base / p

    def address(self, key: str, *, required: bool = False) -> tuple[str, int] | None:
        v = self.text(key, required=required)
        if v is None:
            return None
        address = parse_host_port(v, port_zero=True)
        if address is None:
            raise ConfigError(f"[{self.name}] {key} must look like HOST:PORT, got {v!r}")
        return check_host(f"[{self.name}] {key}", address[0]), address[1]

    def strings(self, key: str, *, required: bool = False) -> tuple[str, ...]:
        v = self._get(key, required)
        if v is None:
            return ()
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            raise ConfigError(f"[{self.name}] {key} must be a list of strings")
        return tuple(x.strip() for x in v)

    def choice(self, key: str, enum_cls: type[StoreLevel], default: StoreLevel) -> StoreLevel:
        v = self.text(key)
        if v is None:
            return default
        try:
            return enum_cls(v.lower())
        except ValueError:
            raise ConfigError(f"[{self.name}] {key} must be one of: {', '.join(e.value for e in enum_cls)}") from None

    def action(self, key: str, default: InspectAction) -> InspectAction:
        v = self.text(key)
        if v is None:
            return default
        try:
            return InspectAction(v.lower())
        except ValueError:
            choices = ", ".join(a.value for a in InspectAction)
            raise ConfigError(f"[{self.name}] {key} must be one of: {choices}") from None

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(f"[{self.name}] unknown key(s): {', '.join(unknown)}")


def _peer(i: int, data: Any, base: Path) -> PeerConfig:
    s = _Section(f"peer #{i + 1}", data, base)
    ae = s.ae("ae", required=True)
    assert ae is not None
    s.name = f"peer {ae}"
    hosts = s.strings("hosts", required=True)
    if not hosts:
        raise ConfigError(f"[peer {ae}] hosts must list at least one address")
    for j, host in enumerate(hosts):
        try:
            check_host(f"peer[{i}].hosts[{j}]", host, networks=True)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (peer {ae})") from None
    allow = s.strings("allow", required=True)
    bad = sorted(set(a.upper() for a in allow) - SERVICES)
    if bad:
        raise ConfigError(f"[peer {ae}] allow: unknown service(s) {', '.join(bad)} (use {', '.join(sorted(SERVICES))})")
    port = s.integer("port", 0, minimum=1) or None
    if port is not None and port > 65535:
        raise ConfigError(f"[peer {ae}] port must be 1-65535")
    if port is not None and "/" in hosts[0]:
        raise ConfigError(f"[peer {ae}] with a port, hosts[0] must be an address (C-MOVE sub-operations go there)")
    moves = s.strings("move_destinations")
    sop_classes = s.strings("sop_classes")
    bad_uids = [u for u in sop_classes if not _UID.fullmatch(u)]
    if bad_uids:
        raise ConfigError(f"[peer {ae}] sop_classes: not a UID: {bad_uids[0]!r}")
    assoc_rate = s.integer("associations_per_minute", 0, minimum=1) or None
    request_rate = s.integer("requests_per_minute", 0, minimum=1) or None
    s.done()
    return PeerConfig(ae=ae, hosts=hosts, allow=frozenset(a.upper() for a in allow), port=port,
                      move_destinations=moves, sop_classes=frozenset(sop_classes),
                      associations_per_minute=assoc_rate, requests_per_minute=request_rate)


def parse_config(doc: Mapping[str, Any], base: Path, source: Path | None = None) -> GatewayConfig:
    """Build a :class:`GatewayConfig` from a parsed TOML document; ``base`` resolves relative paths."""
    unknown = sorted(set(doc) - {"gateway", "peer", "limits", "inspection", "audit"})
    if unknown:
        raise ConfigError(f"unknown section(s): {', '.join(unknown)}")
    if "gateway" not in doc:
        raise ConfigError("[gateway] section is required")
    g = _Section("gateway", doc["gateway"], base)
    listen, listen_tls = g.address("listen"), g.address("listen_tls")
    upstream = g.address("upstream", required=True)
    assert upstream is not None
    upstream_ae, ae_title = g.ae("upstream_ae", required=True), g.ae("ae_title", required=True)
    assert upstream_ae is not None and ae_title is not None
    tls_cert, tls_key, tls_ca = g.path("tls_cert"), g.path("tls_key"), g.path("tls_client_ca")
    warnings: list[str] = []
    if listen_tls is not None and (tls_cert is None or tls_key is None):
        # the example lists listen_tls without certificates and "must work as it is"
        warnings.append("[gateway] listen_tls ignored: it needs tls_cert and tls_key")
        listen_tls = None
    for fp in (tls_cert, tls_key, tls_ca):
        if fp is not None and not fp.is_file():
            raise ConfigError(f"[gateway] no such file: {fp}")
    if listen is None and listen_tls is None:
        raise ConfigError("[gateway] needs listen, or listen_tls with tls_cert and tls_key")
    control = g.path("control") or default_data_dir() / "gateway.sock"
    token_file = g.path("token_file")
    spool = g.path("spool", Path("spool"))
    assert spool is not None
    g.done()

    raw_peers = doc.get("peer", [])
    if not isinstance(raw_peers, list):
        raise ConfigError("[[peer]] must be an array of tables")
    peers: dict[str, PeerConfig] = {}
    for i, raw in enumerate(raw_peers):
        peer = _peer(i, raw, base)
        if peer.ae in peers:
            raise ConfigError(f"[[peer]] {peer.ae} is listed twice")
        peers[peer.ae] = peer
    for peer in peers.values():
        for dest in peer.move_destinations:
            if dest not in peers:
                raise ConfigError(f"[peer {peer.ae}] move_destinations: {dest} is not a [[peer]]")

    lim = _Section("limits", doc.get("limits", {}), base)
    limits = LimitsConfig(
        associations_per_minute=lim.integer("associations_per_minute", 120, minimum=1),
        max_associations=lim.integer("max_associations", 200, minimum=1),
        max_pending_per_host=lim.integer("max_pending_per_host", 32, minimum=1),
        max_pdu_length=lim.integer("max_pdu_length", 1_048_576, minimum=4096),
        connect_timeout=lim.number("connect_timeout", 10.0),
        idle_timeout=lim.number("idle_timeout", 300.0),
    )
    lim.done()

    ins = _Section("inspection", doc.get("inspection", {}), base)
    quarantine = ins.path("quarantine", Path("quarantine"))
    assert quarantine is not None
    inspection = InspectionConfig(
        enabled=ins.flag("enabled", True),
        executable=ins.action("executable", InspectAction.REJECT),
        active_content=ins.action("active_content", InspectAction.REJECT),
        malformed=ins.action("malformed", InspectAction.REJECT),
        other=ins.action("other", InspectAction.ALERT),
        quarantine=quarantine,
    )
    ins.done()

    au = _Section("audit", doc.get("audit", {}), base)
    syslog = au.text("syslog")
    if syslog is not None:
        from radguard.audittrail.syslog import SyslogTarget

        SyslogTarget.parse(syslog)
    spool_dir = au.path("spool", Path("audit-spool"))
    assert spool_dir is not None
    audit = AuditConfig(
        file=au.path("file"),
        syslog=syslog,
        include_patient_id=au.flag("include_patient_id", False),
        secret_file=au.path("secret_file"),
        spool=spool_dir,
        tls_ca=au.path("tls_ca"),
        tls_cert=au.path("tls_cert"),
        tls_key=au.path("tls_key"),
        site_id=au.text("site_id"),
        store=au.choice("store", StoreLevel, StoreLevel.ALERTS),
    )
    au.done()
    return GatewayConfig(
        upstream=upstream, upstream_ae=upstream_ae, ae_title=ae_title, listen=listen, listen_tls=listen_tls,
        tls_cert=tls_cert, tls_key=tls_key, tls_client_ca=tls_ca, control=control, token_file=token_file,
        spool=spool, peers=peers, limits=limits, inspection=inspection, audit=audit, source=source,
        warnings=tuple(warnings),
    )


def load_config(path: Path) -> GatewayConfig:
    """Read and validate ``gateway.toml``; raise :class:`ConfigError` with a one-line reason."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (a UTF-8 TOML gateway configuration is expected)") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    try:
        return parse_config(doc, path.resolve().parent, source=path.resolve())
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def site_secret(cfg: AuditConfig) -> bytes | None:
    """The PHI hash key: ``[audit] secret_file`` contents, else ``RADGUARD_PHI_SECRET`` (radguard.phi)."""
    if cfg.secret_file is None:
        return None
    try:
        data = cfg.secret_file.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"[audit] secret_file: cannot read {cfg.secret_file}: {exc.strerror}") from None
    if len(data) < 16:
        raise ConfigError("[audit] secret_file: the secret must be at least 16 bytes")
    return data
