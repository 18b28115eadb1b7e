"""Phishing-simulation results imported from GoPhish, and the funnel per department.

Two shapes are read, both as GoPhish produces them:

- **JSON** of ``GET /api/campaigns/{id}/results`` (GoPhish ``models.CampaignResults``: ``id``, ``name``,
  ``status``, ``results``, ``timeline``) or of ``GET /api/campaigns/{id}`` (a whole campaign, which has
  ``launch_date`` and the same ``results``). Each result is a ``models.Result``: ``id`` (the 7-character
  result id), ``status`` (the furthest step: ``Email Sent``, ``Email Opened``, ``Clicked Link``,
  ``Submitted Data``; or ``Scheduled``, ``Sending``, ``Retrying``, ``Error``), ``reported`` (the recipient
  reported the e-mail), ``send_date``, ``modified_date``, ``ip``, ``latitude``, ``longitude`` and the
  recipient's ``email``, ``first_name``, ``last_name``, ``position``;
- the **CSV** the results page exports ("Export CSV" > Results: Papa Parse ``unparse`` of the same
  results, one column per key, ``escapeFormulae`` on, newer versions with a UTF-8 BOM).

Only the e-mail (lower case), the stage reached, reported and the send date are kept. Results are joined
to the roster by e-mail to give each recipient a department; the funnel counts sent → opened → clicked →
submitted data → reported. Opening is implied by clicking and clicking by submitting (GoPhish keeps the
furthest status only). A campaign imported again (same GoPhish id, or same name for a CSV) is replaced.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from radguard.errors import UsageError
from radguard.govern.training_roster import Person
from radguard.govern.training_tables import CampaignRow, PhishResultRow
from radguard.store import Store


class Stage(enum.IntEnum):
    """How far a recipient went, from GoPhish's result ``status``."""

    NOT_SENT = 0
    SENT = 1
    OPENED = 2
    CLICKED = 3
    SUBMITTED = 4


#: GoPhish result status (models.go constants) -> stage
STATUS_STAGE: Mapping[str, Stage] = {
    "Email Sent": Stage.SENT, "Email Opened": Stage.OPENED, "Clicked Link": Stage.CLICKED,
    "Submitted Data": Stage.SUBMITTED, "Scheduled": Stage.NOT_SENT, "Sending": Stage.NOT_SENT,
    "Queued": Stage.NOT_SENT, "Retrying": Stage.NOT_SENT, "Error": Stage.NOT_SENT,
    "Error Sending Email": Stage.NOT_SENT, "Unknown": Stage.NOT_SENT,
}
#: the funnel's steps, in order
STEPS: tuple[str, ...] = ("sent", "opened", "clicked", "submitted", "reported")
#: department of a recipient whose e-mail is not on the roster
OFF_ROSTER = "(not on roster)"


@dataclass(frozen=True, kw_only=True, slots=True)
class PhishResult:
    """One recipient of a campaign: how far they went."""

    sent: datetime | None
    email: str
    reported: bool = False
    stage: Stage


@dataclass(frozen=True, kw_only=True, slots=True)
class Campaign:
    name: str
    gophish_id: int | None
    launched: datetime | None
    source: str
    sha256: str
    results: tuple[PhishResult, ...]
    id: int | None = None
    imported: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "gophish_id": self.gophish_id, "name": self.name,
                "launched": self.launched.isoformat() if self.launched else None,
                "imported": self.imported.isoformat() if self.imported else None, "source": self.source,
                "sha256": self.sha256, "recipients": len(self.results)}


@dataclass(kw_only=True, slots=True)
class Funnel:
    """Counts of one group of recipients at each step: ``funnel["clicked"]``."""

    recipients: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STEPS, 0))

    def __getitem__(self, step: str) -> int:
        return self.counts[step]

    def add(self, r: PhishResult) -> None:
        self.recipients += 1
        reached = (r.stage >= Stage.SENT or r.reported, r.stage >= Stage.OPENED, r.stage >= Stage.CLICKED,
                   r.stage >= Stage.SUBMITTED, r.reported)
        for step, hit in zip(STEPS, reached, strict=True):
            self.counts[step] += hit

    def rate(self, step: str) -> float | None:
        """Share of the e-mails sent that reached ``step`` (None if nothing was sent)."""
        sent = self.counts["sent"]
        return round(self.counts[step] / sent, 4) if sent else None

    def to_dict(self) -> dict[str, Any]:
        return {"recipients": self.recipients, **self.counts, "rates": {s: self.rate(s) for s in STEPS[1:]}}


@dataclass(frozen=True, kw_only=True, slots=True)
class CampaignReport:
    campaign: Campaign
    total: Funnel
    departments: Mapping[str, Funnel]
    repeat_clickers: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"campaign": self.campaign.to_dict(), "funnel": self.total.to_dict(),
                "departments": {d: f.to_dict() for d, f in self.departments.items()},
                "repeat_clickers": list(self.repeat_clickers)}


def _when(value: object) -> datetime | None:
    """A GoPhish time (Go RFC 3339 with up to nanoseconds; the zero time means never) as UTC."""
    text = str(value or "").strip()
    if not text or text.startswith("0001-01-01"):
        return None
    head, _, frac = text.partition(".")
    if frac:  # Python reads at most microseconds: cut the fraction, keep the zone
        digits = "".join(c for c in frac if c.isdigit())
        text = f"{head}.{digits[:6]}{frac[len(digits):]}"
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _result(raw: Mapping[str, Any]) -> PhishResult:
    """One GoPhish result; KeyError/ValueError with what is wrong."""
    email = str(raw["email"]).strip().lower()
    if "@" not in email:
        raise ValueError(f"{raw['email']!r} is not an e-mail address")
    status = str(raw["status"]).strip()
    if status not in STATUS_STAGE:
        raise ValueError(f"unknown status {status!r} (GoPhish: {', '.join(STATUS_STAGE)})")
    reported = raw.get("reported", False)
    if isinstance(reported, str):
        if reported.strip().lower() not in ("true", "false", ""):
            raise ValueError(f"reported is {reported!r}, expected true or false")
        reported = reported.strip().lower() == "true"
    elif not isinstance(reported, bool):
        raise ValueError(f"reported is {reported!r}, expected true or false")
    return PhishResult(email=email, stage=STATUS_STAGE[status], reported=reported, sent=_when(raw.get("send_date")))


def _json_result_lines(text: str) -> list[int]:
    """The line of each element of the top-level ``results`` array (for error messages only)."""
    dec = json.JSONDecoder()
    lines: list[int] = []
    i = text.index("{") + 1
    while True:
        while text[i] in " \t\r\n,":
            i += 1
        if text[i] == "}":
            return lines
        key, i = dec.raw_decode(text, i)
        i = text.index(":", i) + 1
        while text[i] in " \t\r\n":
            i += 1
        if key != "results" or text[i] != "[":
            _, i = dec.raw_decode(text, i)
            continue
        i += 1
        while True:
            while text[i] in " \t\r\n,":
                i += 1
            if text[i] == "]":
                return lines
            lines.append(text.count("\n", 0, i) + 1)
            _, i = dec.raw_decode(text, i)


def parse_json(path: str, text: str, sha: str, fallback: str) -> Campaign:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise UsageError(f"{path}:1: expected GoPhish campaign results: an object with 'results' "
                         "(GET /api/campaigns/ID/results)")
    results: list[PhishResult] = []
    for n, raw in enumerate(doc["results"]):
        try:
            if not isinstance(raw, dict):
                raise ValueError("a result is an object")
            results.append(_result(raw))
        except (KeyError, ValueError) as exc:
            try:
                line = _json_result_lines(text)[n]
            except (ValueError, IndexError):  # a shape the walker does not follow: name the file's first line
                line = 1
            what = f"missing {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
            raise UsageError(f"{path}:{line}: results[{n}]: {what}") from None
    gid = doc.get("id")
    launched = None
    try:
        launched = _when(doc.get("launch_date"))
    except ValueError:
        raise UsageError(f"{path}:1: launch_date {doc.get('launch_date')!r} is not a date") from None
    return _campaign(path, str(doc.get("name") or fallback), gid if isinstance(gid, int) else None, launched, "json",
                     sha, results)


def _campaign(path: str, name: str, gid: int | None, launched: datetime | None, source: str, sha: str,
              results: list[PhishResult]) -> Campaign:
    if not results:
        raise UsageError(f"{path}:1: campaign {name!r} has no results")
    sent = [r.sent for r in results if r.sent is not None]
    return Campaign(name=name, gophish_id=gid, launched=launched or (min(sent) if sent else None), source=source,
                    sha256=sha, results=tuple(results))


def _unescape(cell: str) -> str:
    """Undo Papa Parse's ``escapeFormulae`` (a ``'`` before a leading ``= + - @``)."""
    return cell[1:] if len(cell) > 1 and cell[0] == "'" and cell[1] in "=+-@\t\r" else cell


def parse_csv(path: str, text: str, sha: str, name: str) -> Campaign:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    results: list[PhishResult] = []
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        for need in ("email", "status"):
            if need not in header:
                raise UsageError(f"{path}:1: no {need!r} column: expected GoPhish's results CSV "
                                 "(Export CSV > Results)")
        for row in reader:
            if not any(c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise UsageError(f"{path}:{reader.line_num}: {len(row)} fields, expected {len(header)}")
            try:
                results.append(_result({h: _unescape(c) for h, c in zip(header, row, strict=True)}))
            except ValueError as exc:
                raise UsageError(f"{path}:{reader.line_num}: {exc}") from None
    except csv.Error as exc:
        raise UsageError(f"{path}:{reader.line_num}: not valid CSV: {exc}") from None
    return _campaign(path, name, None, None, "csv", sha, results)


def parse_campaign(path: Path, name: str | None = None) -> Campaign:
    """Read a GoPhish results file (JSON or CSV, told apart by content); UsageError ``FILE:LINE: ...``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    # GoPhish names the export "<campaign> - Results.csv"
    return parse_data(data, str(path), name, path.stem.removesuffix(" - Results"))


def parse_data(data: bytes, where: str, name: str | None, fallback: str) -> Campaign:
    """Parse GoPhish results read from ``where`` (a file or an API URL, for messages); the campaign is named
    ``name``, else by the JSON, else ``fallback``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{where}: not UTF-8 text: {exc.reason}") from None
    sha = hashlib.sha256(data).hexdigest()
    if text.lstrip().startswith(("{", "[")):
        camp = parse_json(where, text, sha, fallback)
        return camp if name is None else Campaign(name=name, gophish_id=camp.gophish_id, launched=camp.launched,
                                                  source=camp.source, sha256=sha, results=camp.results)
    return parse_csv(where, text, sha, name or fallback)


def import_campaign(store: Store, camp: Campaign) -> tuple[int, bool]:
    """Store a campaign and its results in one transaction, replacing an earlier import of the same
    campaign; returns (store id, replaced)."""
    with store.session() as s:
        same = select(CampaignRow).where(CampaignRow.gophish_id == camp.gophish_id) if camp.gophish_id is not None \
            else select(CampaignRow).where(CampaignRow.gophish_id.is_(None), CampaignRow.name == camp.name)
        old = list(s.scalars(same))
        for row in old:
            s.execute(delete(PhishResultRow).where(PhishResultRow.campaign_id == row.id))
            s.delete(row)
        row = CampaignRow(gophish_id=camp.gophish_id, name=camp.name, launched=camp.launched,
                          imported=datetime.now(UTC), source=camp.source, sha256=camp.sha256)
        s.add(row)
        s.flush()
        s.add_all(PhishResultRow(campaign_id=row.id, email=r.email, stage=int(r.stage), reported=r.reported,
                                 sent=r.sent) for r in camp.results)
        s.commit()
        return row.id, bool(old)


def _utc(d: datetime | None) -> datetime | None:
    return None if d is None else (d if d.tzinfo else d.replace(tzinfo=UTC))


def campaigns(store: Store) -> list[Campaign]:
    """Every imported campaign with its results, latest launched first."""
    with store.session() as s:
        rows = list(s.scalars(select(CampaignRow)))
        res: dict[int, list[PhishResult]] = {}
        for r in s.scalars(select(PhishResultRow).order_by(PhishResultRow.id)):
            res.setdefault(r.campaign_id, []).append(PhishResult(email=r.email, stage=Stage(r.stage),
                                                                 reported=r.reported, sent=_utc(r.sent)))
        out = [Campaign(id=c.id, name=c.name, gophish_id=c.gophish_id, launched=_utc(c.launched),
                        imported=_utc(c.imported), source=c.source, sha256=c.sha256,
                        results=tuple(res.get(c.id, ()))) for c in rows]
    floor = datetime.min.replace(tzinfo=UTC)
    return sorted(out, key=lambda c: (c.launched or c.imported or floor, c.id or 0), reverse=True)


def funnel(camp: Campaign, roster: Iterable[Person]) -> tuple[Funnel, dict[str, Funnel]]:
    """The funnel of a campaign, in total and per department (by joining recipients to the roster by e-mail)."""
    dept = {p.email: p.department for p in roster}
    total = Funnel()
    by: dict[str, Funnel] = {}
    for r in camp.results:
        total.add(r)
        by.setdefault(dept.get(r.email, OFF_ROSTER), Funnel()).add(r)
    return total, dict(sorted(by.items()))


def repeat_clickers(camps: Sequence[Campaign], roster: Iterable[Person]) -> tuple[str, ...]:
    """Roster ids (or e-mails of recipients off the roster) who clicked in more than one campaign."""
    ids = {p.email: p.id for p in roster}
    clicks: dict[str, int] = {}
    for c in camps:
        for email in {r.email for r in c.results if r.stage >= Stage.CLICKED}:
            clicks[email] = clicks.get(email, 0) + 1
    return tuple(sorted(ids.get(e, e) for e, n in clicks.items() if n > 1))


def report(store: Store, roster: Sequence[Person], campaign_id: int | None = None) -> CampaignReport | None:
    """The funnel of one imported campaign (the latest by default) and the repeat clickers over all of them."""
    camps = campaigns(store)
    if not camps:
        return None
    chosen = camps[0] if campaign_id is None else next((c for c in camps if c.id == campaign_id), None)
    if chosen is None:
        raise UsageError(f"no imported campaign #{campaign_id} (have: {', '.join(str(c.id) for c in camps)})")
    total, by = funnel(chosen, roster)
    return CampaignReport(campaign=chosen, total=total, departments=by, repeat_clickers=repeat_clickers(camps, roster))
