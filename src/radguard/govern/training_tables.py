"""Workforce training tables in the store (migration ``0005_training``), declared on the shared metadata.

Minimal on purpose: workforce members are not patients, but the store keeps only what the training
evidence needs.

- ``training_people``: the roster (the practice's own person id, name or pseudonym, role, department,
  e-mail, active); a person missing from a later roster import is marked inactive, not deleted;
- ``training_completions``: one row per lesson taken (person, lesson and its version, score, passed, when,
  how: ``terminal`` or ``file``); the answers themselves are not kept;
- ``training_campaigns``: one imported GoPhish campaign (its id and name in GoPhish, when it was launched,
  where the results came from and the SHA-256 of that file);
- ``training_phish_results``: one row per recipient: e-mail (lower case, to join the roster), how far the
  recipient went (:class:`radguard.govern.training_phish.Stage`), reported or not, when the e-mail was sent.
  GoPhish's IP address, geolocation, names and position are not stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from radguard.store.schema import Base


class PersonRow(Base):
    __tablename__ = "training_people"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person: Mapped[str] = mapped_column(String(64), unique=True, doc="the practice's own id of the person")
    name: Mapped[str] = mapped_column(String(128), doc="name or pseudonym")
    role: Mapped[str] = mapped_column(String(64), doc="role, lower case (lessons name their audience by role)")
    department: Mapped[str] = mapped_column(String(128), doc="department (the phishing funnel is per department)")
    email: Mapped[str] = mapped_column(String(254), index=True, doc="e-mail, lower case (joins GoPhish results)")
    active: Mapped[bool] = mapped_column(Boolean, doc="on the latest roster import")
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), doc="when the row last changed")


class CompletionRow(Base):
    __tablename__ = "training_completions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person: Mapped[str] = mapped_column(String(64), index=True, doc="the practice's own id of the person")
    lesson: Mapped[str] = mapped_column(String(64), doc="lesson id")
    version: Mapped[int] = mapped_column(Integer, doc="lesson version taken")
    score: Mapped[int] = mapped_column(Integer, doc="questions answered right")
    total: Mapped[int] = mapped_column(Integer, doc="questions asked")
    passed: Mapped[bool] = mapped_column(Boolean, doc="score reached the lesson's pass mark")
    taken: Mapped[datetime] = mapped_column(DateTime(timezone=True), doc="when the lesson was taken")
    source: Mapped[str] = mapped_column(String(16), doc="how: terminal or file (training); json or csv (campaigns)")


class CampaignRow(Base):
    __tablename__ = "training_campaigns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gophish_id: Mapped[int | None] = mapped_column(Integer, nullable=True, doc="its id in GoPhish (JSON imports)")
    name: Mapped[str] = mapped_column(String(255), doc="campaign name")
    launched: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True,
                                                      doc="when it was launched (or its first e-mail sent)")
    imported: Mapped[datetime] = mapped_column(DateTime(timezone=True), doc="when it was imported")
    source: Mapped[str] = mapped_column(String(16))  # "json" or "csv"
    sha256: Mapped[str] = mapped_column(String(64), doc="SHA-256 of the imported file")


class PhishResultRow(Base):
    __tablename__ = "training_phish_results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("training_campaigns.id", ondelete="CASCADE"), index=True,
                                             doc="the imported campaign")
    email: Mapped[str] = mapped_column(String(254), doc="recipient's e-mail, lower case (joins the roster)")
    stage: Mapped[int] = mapped_column(Integer, doc="furthest step: 0 not sent .. 4 submitted data")
    reported: Mapped[bool] = mapped_column(Boolean, doc="the recipient reported the e-mail")
    sent: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, doc="when it was sent")
