"""Target and port specifications for ``radguard scan`` (nmap-style).

Targets: IPv4/IPv6 addresses, hostnames, CIDR blocks (``10.0.0.0/27``), last-octet or
full ranges (``10.0.0.1-20``, ``10.0.0.1-10.0.0.9``) and ``@file`` (one spec per line,
``#`` comments). Ports: ``104,4242,8000-8100``. The scanner only ever connects to what
these expand to: it never sends to anything the user did not name.

A malformed spec is a usage error (exit 2, one line), before anything is sent: a bad CIDR or range,
and a dotted number that is no address (``999.1.1.1``, ``10.0.0``: a host name never ends in an
all-numeric label, RFC 3696 §2, so it is a mistyped address, not a name). A well-formed host name
that does not resolve is a result of that target (``resolve-failed`` under ``"errors"``), not exit 2.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from pathlib import Path

from radguard.errors import UsageError

#: the default port list (issue 3): DICOM 104/11112/4242, DICOM-TLS 2762, ISCL 2761 (retired),
#: PACS web / DICOMweb 8042/8080/80/443. Service identification never trusts these numbers.
DEFAULT_PORTS: tuple[int, ...] = (104, 11112, 4242, 2762, 2761, 8042, 8080, 80, 443)

#: refuse to expand more addresses than this in one run (a typo like /8 is not a scan plan)
MAX_ADDRESSES = 65_536


def parse_ports(spec: str | None) -> list[int]:
    """Parse an nmap-style port list (``"104,4242,8000-8100"``); ``None``/empty → :data:`DEFAULT_PORTS`.

    Raises
    ------
    UsageError
        For a malformed item or a port outside 1..65535.
    """
    if spec is None or not spec.strip():
        return list(DEFAULT_PORTS)
    out: list[int] = []
    seen: set[int] = set()
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        lo_s, sep, hi_s = item.partition("-")
        try:
            lo = int(lo_s)
            hi = int(hi_s) if sep else lo
        except ValueError:
            raise UsageError(f"--ports: not a port or range: {item!r}") from None
        if not (1 <= lo <= 65535 and 1 <= hi <= 65535) or hi < lo:
            raise UsageError(f"--ports: out of range 1-65535 or reversed: {item!r}")
        for p in range(lo, hi + 1):
            if p not in seen:
                seen.add(p)
                out.append(p)
    if not out:
        raise UsageError("--ports: empty port list")
    return out


def _expand_range(spec: str) -> Iterator[str] | None:
    """``a.b.c.d-e`` or ``a.b.c.d-w.x.y.z`` → addresses; ``None`` if ``spec`` is no range."""
    left, sep, right = spec.partition("-")
    if not sep:
        return None
    try:
        start = ipaddress.ip_address(left)
    except ValueError:
        return None
    try:
        end = ipaddress.ip_address(right)
    except ValueError:
        if not right.isdigit() or start.version != 4:
            raise UsageError(f"bad address range: {spec!r}") from None
        last = int(right)
        if last > 255:
            raise UsageError(f"bad address range: {spec!r}") from None
        end = ipaddress.ip_address(".".join([*left.split(".")[:3], str(last)]))
    if end.version != start.version or int(end) < int(start):
        raise UsageError(f"bad address range: {spec!r}")
    if int(end) - int(start) + 1 > MAX_ADDRESSES:
        raise UsageError(f"address range too large (> {MAX_ADDRESSES}): {spec!r}")
    return (str(ipaddress.ip_address(i)) for i in range(int(start), int(end) + 1))


def _expand_one(spec: str) -> Iterator[str]:
    if "/" in spec:
        try:
            net = ipaddress.ip_network(spec, strict=False)
        except ValueError:
            raise UsageError(f"bad CIDR: {spec!r}") from None
        if net.num_addresses > MAX_ADDRESSES:
            raise UsageError(f"network too large (> {MAX_ADDRESSES} addresses): {spec!r}")
        if net.num_addresses <= 2:
            yield from (str(a) for a in net)
        else:
            yield from (str(a) for a in net.hosts())
        return
    rng = _expand_range(spec)
    if rng is not None:
        yield from rng
        return
    try:
        yield str(ipaddress.ip_address(spec))
        return
    except ValueError:
        pass
    if _numeric_tld(spec):  # 999.1.1.1, 10.0.0, 1.2.3.4.5: a mistyped address, never a name to resolve
        raise UsageError(f"not a valid IP address: {spec!r} (and a host name never ends in an all-numeric label, "
                         "RFC 3696 section 2)")
    if not _valid_hostname(spec):
        raise UsageError(f"not an address, network, range or host name: {spec!r}")
    yield spec.lower().rstrip(".")


def _numeric_tld(name: str) -> bool:
    """Whether the last label of ``name`` is all digits: then it can only be meant as an IPv4 address."""
    last = name.rstrip(".").rpartition(".")[2]
    return last.isdigit() and last.isascii()


def _valid_hostname(name: str) -> bool:
    """RFC 1123 host name syntax (letters, digits, hyphens; labels <= 63; total <= 253)."""
    name = name.rstrip(".")
    if not name or len(name) > 253:
        return False
    for label in name.split("."):
        if not (1 <= len(label) <= 63) or label.startswith("-") or label.endswith("-"):
            return False
        if not all(c.isalnum() or c == "-" for c in label) or not label.isascii():
            return False
    return True


def _read_file(path_text: str) -> list[str]:
    path = Path(path_text)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read target file {path_text!r}: {exc.__class__.__name__}") from None
    specs: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        specs.extend(line.replace(",", " ").split())
    return specs


def expand_targets(specs: Iterable[str]) -> list[str]:
    """Expand target specs into a de-duplicated, ordered list of hosts (addresses or names).

    Raises
    ------
    UsageError
        For an unparseable spec, an unreadable ``@file``, or more than :data:`MAX_ADDRESSES` hosts.
    """
    out: list[str] = []
    seen: set[str] = set()

    def add(items: Iterable[str]) -> None:
        for spec in items:
            spec = spec.strip()
            if not spec:
                continue
            if spec.startswith("@"):
                add(_read_file(spec[1:]))
                continue
            for host in _expand_one(spec):
                if host not in seen:
                    seen.add(host)
                    out.append(host)
                    if len(out) > MAX_ADDRESSES:
                        raise UsageError(f"too many targets (> {MAX_ADDRESSES})")

    add(specs)
    if not out:
        raise UsageError("no targets given")
    return out


def format_target(host: str, port: int) -> str:
    """``host:port``, with IPv6 addresses bracketed (``[::1]:104``)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
