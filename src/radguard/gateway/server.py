"""The gateway's one asyncio server: it owns every socket (DICOM, DICOM TLS, control).

It composes the gateway: the policy engine with its addons (decision hooks, :mod:`radguard.gateway.policy`),
the event bus with its observers (audit records, statistics: :mod:`radguard.gateway.bus`), and the narrow
:class:`~radguard.gateway.services.Services` object each :class:`~radguard.gateway.relay.Relay` receives.
Containment arrives over the control socket (:mod:`radguard.gateway.control`); SIGHUP reloads the
configuration for new decisions without dropping open associations. This is the CLI-facing entry
(:func:`run_gateway`): no other module of the gateway imports it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from radguard.audittrail.trail import AuditTrail
from radguard.errors import ConfigError
from radguard.gateway import bus as ev
from radguard.gateway import relay as relaying
from radguard.gateway import streams
from radguard.gateway.addons.audit import GatewayAudit
from radguard.gateway.addons.honeytoken import HoneytokenWatch
from radguard.gateway.addons.inspection import Checker, Inspection
from radguard.gateway.addons.stats import Stats
from radguard.gateway.audit_sink import AuditSink
from radguard.gateway.config import GatewayConfig, StoreLevel, load_config, site_secret
from radguard.gateway.control import ControlServer
from radguard.gateway.engine import decision_addons
from radguard.gateway.hostile import Hostility
from radguard.gateway.policy import AssociationInfo, PolicyEngine
from radguard.gateway.relay import Relay
from radguard.gateway.services import Services
from radguard.gateway.startup import prepare, server_tls_context
from radguard.gateway.tls_accept import HandshakeContext, accept_tls

log = logging.getLogger("radguard.gateway")


def build_trail(config: GatewayConfig, listeners: list[Callable[[dict[str, Any]], None]] | None = None
                ) -> AuditTrail | None:
    """The audit trail of ``[audit]`` (None when there is neither a file, a collector, nor a store sink)."""
    audit = config.audit
    if audit.file is None and audit.syslog is None and not listeners:
        return None
    sender = None
    if audit.syslog is not None:
        from radguard.audittrail.syslog import SyslogTarget, make_sender

        sender = make_sender(SyslogTarget.parse(audit.syslog), ca=audit.tls_ca, cert=audit.tls_cert, key=audit.tls_key)
    return AuditTrail(jsonl=audit.file, sender=sender, spool_dir=audit.spool,
                      include_patient_id=audit.include_patient_id, secret=site_secret(audit), listeners=listeners)


#: live associations listed by ``contain --status`` (the count is always complete)
STATUS_ASSOCIATIONS = 200

class Gateway:
    """The running gateway: listeners, policy, audit, containment, open associations.

    Parameters
    ----------
    config : GatewayConfig
        The loaded configuration.
    trail : AuditTrail, optional
        Audit trail to use (default: built from ``[audit]``).
    checker : callable, optional
        Data set inspection function (default: :mod:`radguard.inspect.api`).
    """

    def __init__(self, config: GatewayConfig, *, trail: AuditTrail | None = None,
                 checker: Checker | None = None) -> None:
        self.config = config
        # everything short of binding, as ``--check`` does it; the containment is restored from its state file
        self.startup = prepare(config)
        self.containment = self.startup.containment
        self.relays: set[Relay] = set()
        self.events = ev.EventBus()
        self._stats = Stats()
        self._stats.subscribe(self.events)
        self.stats = self._stats.counts
        self.sink: AuditSink | None = None
        level = config.audit.store
        if trail is None and level is not StoreLevel.NONE and (config.audit.file or config.audit.syslog):
            try:
                self.sink = AuditSink({"ae_title": config.ae_title, "upstream": f"{config.upstream_ae}@"
                                       f"{config.upstream[0]}:{config.upstream[1]}", "peers": sorted(config.peers)},
                                      alerts_only=level is StoreLevel.ALERTS)
            except Exception as exc:  # the store is an observer too: the gateway runs without it
                log.error("audit: store unavailable (%s); audit goes to the file/syslog only", exc)
        self.trail = trail if trail is not None else build_trail(config, [self.sink] if self.sink else None)
        self.audit = (GatewayAudit(self.trail, lambda: self.config.ae_title,
                                   lambda: (self.config.upstream_ae, self.config.upstream[0]))
                      if self.trail is not None else None)
        if self.audit is not None:
            self.audit.subscribe(self.events)
        self.honeytokens = HoneytokenWatch.from_file(lambda: self.audit)
        self.honeytokens.subscribe(self.events)
        self.inspection = Inspection(lambda: self.config.inspection, checker)
        self.engine = PolicyEngine([*decision_addons(self, lambda: sum(1 for r in self.relays if r.established)),
                                    self.inspection])
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="radguard-inspect")
        self.spool_dir: Path = config.spool
        self.services = Services(config=lambda: self.config, engine=self.engine, bus=self.events,
                                 executor=self.executor, spool_dir=self.spool_dir,
                                 quarantine=self.inspection.quarantine, negotiating=lambda: bool(self._pending))
        self._servers: list[asyncio.base_events.Server] = []
        self._tls: HandshakeContext | None = None
        self._handshakes: set[asyncio.Task[Any]] = set()  # connections to listen_tls still handshaking
        self._control: ControlServer | None = None
        self._ids = itertools.count(1)
        self._pending: collections.Counter[str] = collections.Counter()  # connections not yet past A-ASSOCIATE
        self._stopped = asyncio.Event()
        self.addresses: dict[str, tuple[str, int]] = {}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the listeners and the control socket."""
        cfg = self.config
        self.spool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # C-STORE data sets: owner only
        if cfg.listen is not None:
            srv = await streams.start_server(lambda r, w: self._on_client(r, w, False), *cfg.listen,
                                             reuse_address=True)
            self._servers.append(srv)
            self.addresses["listen"] = srv.sockets[0].getsockname()[:2]
        if cfg.listen_tls is not None:
            # plain TCP: the handshake is the gateway's own (tls_accept), so that each failed one is audited
            assert self.startup.tls is not None
            self._tls = HandshakeContext(self.startup.tls, server_tls_context(cfg))
            srv = await streams.start_server(lambda r, w: self._on_client(r, w, True), *cfg.listen_tls,
                                             deferred=True, reuse_address=True)
            self._servers.append(srv)
            self.addresses["listen_tls"] = srv.sockets[0].getsockname()[:2]
        self._control = ControlServer(cfg.control, cfg.control_token, self.contain, self.events)
        await self._control.start()
        for w in cfg.warnings:
            log.warning("%s", w)
        for hold in self.containment.holds.values():  # restored from the state file before listening
            log.warning("containment in force: %s%s by %s since %s", hold.kind, f" {hold.peer}" if hold.peer else "",
                        hold.who, hold.at)
        log.info("gateway %s listening on %s, upstream %s %s:%d", cfg.ae_title,
                 ", ".join(f"{k}={h}:{p}" for k, (h, p) in self.addresses.items()), cfg.upstream_ae, *cfg.upstream)
        self.events.publish(ev.GatewayState(running=True))

    async def serve_forever(self) -> None:
        """Run until :meth:`request_stop` (SIGTERM/SIGINT); SIGHUP reloads the configuration."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, self.reload)
            loop.add_signal_handler(signal.SIGTERM, self.request_stop)
            loop.add_signal_handler(signal.SIGINT, self.request_stop)
        await self._stopped.wait()
        await self.stop()

    def request_stop(self) -> None:
        self._stopped.set()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop listening, let open associations finish for ``grace`` seconds, abort the rest."""
        for srv in self._servers:
            srv.close()
        if self._control is not None:
            await self._control.stop()
        deadline = asyncio.get_running_loop().time() + grace
        while self.relays and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        for relay in list(self.relays):
            relay.abort("gateway shutting down")
        for task in list(self._handshakes):
            task.cancel()
        await asyncio.sleep(0)
        self.events.publish(ev.GatewayState(running=False))
        self.executor.shutdown(wait=False)
        if self.trail is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.trail.close)
        if self.sink is not None:
            sink, summary = self.sink, dict(self.stats)
            await asyncio.get_running_loop().run_in_executor(None, lambda: sink.close(summary))

    def reload(self) -> None:
        """Reload the configuration file (SIGHUP): new decisions use it; open associations go on."""
        if self.config.source is None:
            return
        try:
            new = load_config(self.config.source)
        except ConfigError as exc:
            log.error("reload failed, keeping the running configuration: %s", exc)
            self.events.publish(ev.ConfigReloaded(len(self.config.peers), error=str(exc)))
            return
        fixed = ("listen", "listen_tls", "control", "audit")
        changed = [k for k in fixed if getattr(new, k) != getattr(self.config, k)]
        self.config = new
        log.info("configuration reloaded (%d peers)%s", len(new.peers),
                 f"; restart to apply {', '.join(changed)}" if changed else "")
        self.events.publish(ev.ConfigReloaded(len(new.peers)))

    # ------------------------------------------------------------------ connections

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tls: bool) -> None:
        streams.tune_socket(writer)
        peer = writer.get_extra_info("peername") or ("?", 0)
        host = str(peer[0])
        self.events.publish(ev.Connection(host))
        if self._pending[host] >= self.config.limits.max_pending_per_host:
            # a flood of connections that never associate: drop at once, other hosts keep being served
            self.events.publish(ev.Connection(host, dropped=True))
            self.events.publish(ev.HostileConnection(host, Hostility.PENDING_LIMIT, "dropped: more than "
                                                     f"{self.config.limits.max_pending_per_host} connections "
                                                     "without an association"))
            if self.stats["connections_dropped"] % 100 == 1:
                log.warning("%s: more than %d connections without an association; dropping", host,
                            self.config.limits.max_pending_per_host)
            writer.close()
            return
        self._pending[host] += 1
        if tls and not await self._handshake(reader, writer, host):
            return
        info = AssociationInfo(id=next(self._ids), calling_ae="", called_ae="", client_host=host,
                               client_port=int(peer[1]), tls=tls)
        relay = Relay(self.services, info, reader, writer)
        self.relays.add(relay)
        relay.on_established = lambda: self._settled(host)
        try:
            await relay.run()
        finally:
            if relay.on_established is not None:  # never got past the A-ASSOCIATE phase
                self._settled(host)
            self.relays.discard(relay)

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> bool:
        """The TLS handshake of a connection to ``listen_tls``, within the ARTIM timeout; a failure is a
        hostile act told on the bus (and the connection is no longer pending)."""
        assert self._tls is not None
        task = asyncio.current_task()
        if task is not None:
            self._handshakes.add(task)
        try:
            refusal = await accept_tls(reader, writer, self._tls, relaying.ARTIM_SECONDS)
        except BaseException:  # cancelled: the gateway stops
            self._settled(host)
            writer.close()
            raise
        finally:
            self._handshakes.discard(task)  # type: ignore[arg-type]
        if refusal is None:
            return True
        self._settled(host)
        if refusal.kind is not None:
            log.debug("TLS connection from %s: %s", host, refusal.detail)  # the audit logs, folded
            self.events.publish(ev.HostileConnection(host, refusal.kind, refusal.detail, refusal.subject))
        return False

    def _settled(self, host: str) -> None:
        self._pending[host] -= 1
        if self._pending[host] <= 0:
            del self._pending[host]

    # ------------------------------------------------------------------ containment

    def contain(self, action: str, peer: str | None = None, by: str = "", console_user: str | None = None
                ) -> dict[str, Any]:
        """Apply a containment action now, persist it; abort the affected open associations (issue 5 ``contain``).

        ``by`` is the OS user who asked (control socket credentials), ``console_user`` the console's user.
        """
        if action == "status":
            return {"state": self.containment.to_dict(), "open_associations": len(self.relays),
                    "stats": dict(self.stats), "peers": self._stats.peer_counts(),
                    "associations": [{"calling_ae": r.info.calling_ae, "host": r.info.client_host,
                                      "tls": r.info.tls, "established": r.established}
                                     for r in sorted(self.relays, key=lambda r: r.info.id)[:STATUS_ASSOCIATIONS]]}
        self.containment.apply(action, peer, by or "unknown", console_user)  # ValueError: a bad request
        if action == "peer":
            affected = [r for r in self.relays if peer in (r.info.calling_ae, r.info.target_ae)]
        elif action == "read-only":
            affected = [r for r in self.relays if not peer or r.info.calling_ae == peer]
        elif action == "downtime":
            affected = list(self.relays)
        else:
            affected = []
        detail: dict[str, Any] = {"peer": peer, "by": by, "console_user": console_user, "aborted": len(affected),
                                  "state": self.containment.to_dict(), "persisted": True}
        try:
            self.startup.state.save(self.containment)
        except OSError as exc:  # applied all the same; a restart would not know it: say so loudly
            detail.update(persisted=False, warning=f"not saved to {self.startup.state.path}: {exc.strerror or exc}")
            log.error("containment %s: %s", action, detail["warning"])
        for relay in affected:
            relay.abort(f"containment: {action}")
        log.warning("containment %s%s: %d association(s) aborted", action, f" {peer}" if peer else "", len(affected))
        self.events.publish(ev.Contained(action, detail, peer))
        return detail


#: GIL switch interval of a gateway process: the audit worker thread must not hold the event loop
#: off the GIL for the default 5 ms when a PDU arrives
SWITCH_INTERVAL = 0.0005


async def run_gateway(config: GatewayConfig) -> None:
    """Start a gateway and serve until SIGTERM/SIGINT."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    gw = Gateway(config)
    await gw.start()
    await gw.serve_forever()


def pid_file_for(config: GatewayConfig) -> Path:
    return config.control.with_suffix(".pid")


def write_pid(config: GatewayConfig) -> None:
    path = pid_file_for(config)
    with contextlib.suppress(OSError):
        path.write_text(str(os.getpid()))
