"""Benign background traffic: what a department does all day, during every attack.

The mix (documented in docs/range.md): one operation at once, then every :data:`PERIOD` seconds, in the
cycle store, query, store, query, retrieve — 40 % C-STORE of one image by the CT (CT01, over DICOM TLS to
the gateway while the TLS layer is on), 40 %
C-FIND of one study by its UID from the reading workstation (WS01), 20 % C-MOVE of one study to
WS01 — about 40 associations a minute, through the front door (the gateway, or the PACS directly
when the gateway is switched off). Besides, every :data:`VIEW_PERIOD` seconds, a viewer opens one image
of a study over the PACS's web API (QIDO-RS for an instance of the study, then WADO-RS of that instance,
PS3.18 §10.6/§10.4; the REST API without the DICOMweb plugin). Any alert raised by it is a false positive.
"""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

from radguard.range.attacks.kit import Context

PERIOD = 1.5
CYCLE = ("store", "find", "store", "find", "move")
#: seconds between two studies the web viewer opens
VIEW_PERIOD = 30.0


class Benign:
    """A background thread playing :data:`CYCLE`; ``ops`` counts what it did and ``failed`` what failed."""

    #: when the viewer last opened a study (monotonic; shared by every run of the process)
    viewed = -VIEW_PERIOD

    def __init__(self, ctx: Context, image: Path) -> None:
        self.ctx = ctx
        self.image = image
        self.stop_event = threading.Event()
        self.ops: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.thread = threading.Thread(target=self._loop, name="radguard-range-benign", daemon=True)
        self.studies = ctx.pacs_studies()[:1]

    def __enter__(self) -> Benign:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join(timeout=30)

    def _loop(self) -> None:
        for n, op in enumerate(itertools.cycle(CYCLE)):
            if n and self.stop_event.wait(PERIOD):
                return
            self._count(op)
            if time.monotonic() - Benign.viewed >= VIEW_PERIOD:  # one viewer across attacks: its rate holds
                Benign.viewed = time.monotonic()
                self._count("view")

    def _count(self, op: str) -> None:
        try:
            ok = self._one(op)
        except Exception:
            ok = False
        self.ops[op] = self.ops.get(op, 0) + 1
        if not ok:
            self.failed[op] = self.failed.get(op, 0) + 1

    def _one(self, op: str) -> bool:
        ctx = self.ctx
        if op == "store":
            return ctx.modality_store("CT01", [self.image])
        if op == "find":
            return ctx.find("WS01", [f"StudyInstanceUID={self.studies[0]}" if self.studies else "StudyInstanceUID",
                                     "StudyDate"]) >= 0
        if op == "view":
            return self._view()
        return ctx.move(ctx.st.workstation_ae, ctx.st.workstation_ae, self.studies) if self.studies else True

    def _view(self) -> bool:
        """A radiologist's web viewer opens one image of a study: QIDO-RS for its first instance (PS3.18 §10.6),
        then WADO-RS of that instance (§10.4). One object a view, whatever the study has grown to."""
        if not self.studies:
            return True
        ctx, study = self.ctx, self.studies[0]
        if not ctx.dicomweb:
            return ctx.rest_json("/studies") is not None
        found = ctx.rest_json(f"/dicom-web/studies/{study}/instances?limit=1") or []
        try:
            series, sop = (str(found[0][tag]["Value"][0]) for tag in ("0020000E", "00080018"))
        except (IndexError, KeyError, TypeError):
            return False
        code, body = ctx.rest("GET", f"/dicom-web/studies/{study}/series/{series}/instances/{sop}",
                              headers={"Accept": 'multipart/related; type="application/dicom"'})
        return code == 200 and b"DICM" in body
