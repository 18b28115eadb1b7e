"""Record sinks: JSON Lines (one record per line) and a Zeek-style ``dicom.log`` (TSV with the
``#fields``/``#types`` header Zeek's readers and zeek-cut expect), optionally rotated by size."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, Any

from radguard.monitor.detections import epoch

#: Zeek columns: (record key or dotted path, Zeek name, Zeek type)
ZEEK_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("ts", "ts", "time"), ("uid", "uid", "string"), ("client", "id.orig_h", "addr"),
    ("client_port", "id.orig_p", "port"), ("server", "id.resp_h", "addr"), ("server_port", "id.resp_p", "port"),
    ("kind", "kind", "string"), ("calling_ae", "calling_ae", "string"), ("called_ae", "called_ae", "string"),
    ("result", "result", "string"), ("reject.reason", "reject_reason", "string"), ("end", "end", "string"),
    ("command", "command", "string"), ("sop_class", "sop_class", "string"), ("status", "status", "count"),
    ("status_category", "status_category", "string"), ("matches", "matches", "count"),
    ("move_destination", "move_destination", "string"), ("objects", "objects", "count"),
    ("objects_stored", "objects_stored", "count"), ("request_bytes", "request_bytes", "count"),
    ("response_bytes", "response_bytes", "count"), ("phi_attributes", "phi_attributes", "set[string]"),
    ("tls.version", "tls_version", "string"), ("partial", "partial", "bool"),
)


def _get(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _zeek_value(value: Any, zeek_type: str) -> str:
    if value is None or value == "":
        return "-"
    if zeek_type == "time":
        return f"{epoch(str(value)):.6f}"
    if zeek_type == "bool":
        return "T" if value else "F"
    if zeek_type.startswith("set"):
        items = sorted(value) if isinstance(value, (dict, list, set)) else [value]
        return ",".join(str(i) for i in items) if items else "(empty)"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\x09").replace("\n", "\\x0a") or "(empty)"


class _Rotating:
    def __init__(self, path: Path, rotate_bytes: int) -> None:
        self.path = path
        self.rotate_bytes = rotate_bytes
        self.part = 0
        self.written = 0
        self.fh: IO[str] = self._open()

    def _open(self) -> IO[str]:
        path = self.path if self.part == 0 else self.path.with_name(f"{self.path.stem}.{self.part}{self.path.suffix}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.written = 0
        return path.open("w", encoding="utf-8")

    def write(self, text: str) -> None:
        if self.rotate_bytes and self.written and self.written + len(text) > self.rotate_bytes:
            self.rotate()
        self.fh.write(text)
        self.written += len(text)

    def rotate(self) -> None:
        self.close()
        self.part += 1
        self.fh = self._open()
        self.on_open()

    def on_open(self) -> None:
        """Hook for headers written at the top of each file."""

    def close(self) -> None:
        self.fh.close()


class JsonLinesSink(_Rotating):
    """Stream records as JSON Lines (``FILE``, then ``FILE.1``, ... when rotating)."""

    def __call__(self, record: dict[str, Any]) -> None:
        self.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")


class ZeekSink(_Rotating):
    """Write ``DIR/dicom.log`` in Zeek's TSV log format."""

    def __init__(self, directory: Path, rotate_bytes: int = 0) -> None:
        super().__init__(directory / "dicom.log", rotate_bytes)
        self.on_open()

    def on_open(self) -> None:
        opened = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())
        self.fh.write("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdicom\n"
                      f"#open\t{opened}\n#fields\t" + "\t".join(f[1] for f in ZEEK_FIELDS) + "\n"
                      "#types\t" + "\t".join(f[2] for f in ZEEK_FIELDS) + "\n")

    def __call__(self, record: dict[str, Any]) -> None:
        if record.get("kind") not in ("association", "dimse"):
            return
        self.write("\t".join(_zeek_value(_get(record, key), zt) for key, _, zt in ZEEK_FIELDS) + "\n")

    def close(self) -> None:
        self.fh.write(f"#close\t{time.strftime('%Y-%m-%d-%H-%M-%S', time.gmtime())}\n")
        super().close()
