"""Governance tables in the store (migration ``0004_govern``), declared on the shared metadata.

- ``govern_assessments``: one self-assessment session (who started it, when, template edition, status);
- ``govern_answers``: every answer ever given, versioned: a new answer is a new row (who, when), the
  latest row per question wins, older rows are the history;
- ``govern_records``: obligations fulfilled outside radguard's own runs (a penetration test report,
  an incident-response exercise's after-action report, a restore test), with date and who recorded it;
- ``govern_risks``: what people changed in the risk register (treatment, owner, due date, status,
  residual levels), keyed by scenario; the scenarios themselves are seeded from the store when read;
- ``govern_risk_snapshots``: the register's levels at a point in time, for the trend between assessments.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from radguard.store.schema import Base


class AssessmentRow(Base):
    __tablename__ = "govern_assessments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    who: Mapped[str] = mapped_column(String(128))
    template: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(32))  # "interactive" or "file"
    status: Mapped[str] = mapped_column(String(16))  # "in-progress" or "complete"


class AnswerRow(Base):
    __tablename__ = "govern_answers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("govern_assessments.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(String(64), index=True)
    value: Mapped[Any] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    who: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RecordRow(Base):
    __tablename__ = "govern_records"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    obligation: Mapped[str] = mapped_column(String(64), index=True)
    date: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    who: Mapped[str] = mapped_column(String(128))
    recorded: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RiskEditRow(Base):
    __tablename__ = "govern_risks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    who: Mapped[str] = mapped_column(String(128))
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RiskSnapshotRow(Base):
    __tablename__ = "govern_risk_snapshots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(64))
    register: Mapped[dict[str, Any]] = mapped_column(JSON)
