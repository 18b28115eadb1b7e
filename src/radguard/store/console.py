"""Tables and queries of the console (``radguard web``): accounts, sessions, accepted risks.

Passwords are stored only as argon2id hashes (made by :mod:`radguard.web.accounts`); a session row
holds the SHA-256 of the session token, never the token itself. Migration ``0004_console``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    RowMapping,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    tuple_,
    update,
)

from radguard.store.api import Store
from radguard.store.schema import metadata

#: the roles of the console, least to most privileged
ROLES: tuple[str, ...] = ("viewer", "operator", "admin")

web_users = Table(
    "web_users", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("disabled", Boolean, nullable=False, default=False),
)

web_sessions = Table(
    "web_sessions", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("expires", DateTime(timezone=True), nullable=False),
)

risk_acceptances = Table(
    "risk_acceptances", metadata,
    Column("id", Integer, primary_key=True),
    Column("rule", String(64), nullable=False),
    Column("target", Text, nullable=False),
    Column("finding_id", Integer, nullable=True),
    Column("reason", Text, nullable=False),
    Column("expires", DateTime(timezone=True), nullable=False),
    Column("accepted_by", String(64), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
)
Index("ix_risk_acceptances_rule_target", risk_acceptances.c.rule, risk_acceptances.c.target)


def _tz(d: datetime | None) -> datetime | None:
    if d is None:
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


@dataclass(frozen=True, kw_only=True, slots=True)
class WebUser:
    """A console account (the hash stays in the store unless asked for)."""

    id: int
    name: str
    role: str
    created: datetime
    failed_logins: int
    locked_until: datetime | None
    disabled: bool
    password_hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "created": self.created.isoformat(),
                "locked_until": self.locked_until.isoformat() if self.locked_until else None,
                "disabled": self.disabled}


@dataclass(frozen=True, kw_only=True, slots=True)
class Acceptance:
    """An accepted risk: a (rule, target) pair that stays open but is acknowledged until ``expires``."""

    id: int
    rule: str
    target: str
    finding_id: int | None
    reason: str
    expires: datetime
    accepted_by: str
    created: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule, "target": self.target, "finding": self.finding_id,
                "reason": self.reason, "expires": self.expires.isoformat(), "accepted_by": self.accepted_by,
                "created": self.created.isoformat()}


def _user(row: RowMapping) -> WebUser:
    created = _tz(row["created"])
    assert created is not None
    return WebUser(id=row["id"], name=row["name"], role=row["role"], created=created,
                   failed_logins=row["failed_logins"] or 0, locked_until=_tz(row["locked_until"]),
                   disabled=bool(row["disabled"]), password_hash=row["password_hash"])


def count_users(store: Store) -> int:
    with store.session() as s:
        return int(s.execute(select(func.count()).select_from(web_users)).scalar_one())


def add_user(store: Store, name: str, role: str, password_hash: str) -> WebUser:
    """Create an account; ``ValueError`` if the name is taken or the role unknown."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    if get_user(store, name) is not None:
        raise ValueError(f"user {name!r} exists already")
    with store.session() as s:
        s.execute(insert(web_users).values(name=name, role=role, password_hash=password_hash,
                                           created=datetime.now(UTC), failed_logins=0, disabled=False))
        s.commit()
    user = get_user(store, name)
    assert user is not None
    return user


def set_password(store: Store, name: str, password_hash: str) -> None:
    with store.session() as s:
        s.execute(update(web_users).where(web_users.c.name == name)
                  .values(password_hash=password_hash, failed_logins=0, locked_until=None))
        s.execute(delete(web_sessions).where(web_sessions.c.user_id.in_(
            select(web_users.c.id).where(web_users.c.name == name))))
        s.commit()


def get_user(store: Store, name: str) -> WebUser | None:
    with store.session() as s:
        row = s.execute(select(web_users).where(web_users.c.name == name)).mappings().first()
        return _user(row) if row else None


def list_users(store: Store) -> list[WebUser]:
    with store.session() as s:
        return [_user(r) for r in s.execute(select(web_users).order_by(web_users.c.name)).mappings()]


def record_login_failure(store: Store, user_id: int, *, lock_after: int, lock_until: datetime) -> int:
    """Count a failed login; lock the account when ``lock_after`` consecutive failures are reached."""
    with store.session() as s:
        s.execute(update(web_users).where(web_users.c.id == user_id)
                  .values(failed_logins=web_users.c.failed_logins + 1))
        failed = int(s.execute(select(web_users.c.failed_logins).where(web_users.c.id == user_id)).scalar_one())
        if failed >= lock_after:
            s.execute(update(web_users).where(web_users.c.id == user_id)
                      .values(locked_until=lock_until, failed_logins=0))
        s.commit()
        return failed


def reset_login_failures(store: Store, user_id: int) -> None:
    with store.session() as s:
        s.execute(update(web_users).where(web_users.c.id == user_id).values(failed_logins=0, locked_until=None))
        s.commit()


def create_session(store: Store, *, token_sha256: str, user_id: int, csrf: str, expires: datetime) -> None:
    now = datetime.now(UTC)
    with store.session() as s:
        s.execute(delete(web_sessions).where(web_sessions.c.expires < now))  # keep the table small
        s.execute(insert(web_sessions).values(token_sha256=token_sha256, user_id=user_id, csrf=csrf,
                                              created=now, expires=expires))
        s.commit()


def get_session(store: Store, token_sha256: str) -> tuple[WebUser, str] | None:
    """(user, CSRF token) of a live session, or None if unknown, expired or the user is disabled."""
    with store.session() as s:
        row = s.execute(
            select(web_users, web_sessions.c.csrf, web_sessions.c.expires)
            .join(web_sessions, web_sessions.c.user_id == web_users.c.id)
            .where(web_sessions.c.token_sha256 == token_sha256)
        ).mappings().first()
    if row is None:
        return None
    expires = _tz(row["expires"])
    user = _user(row)
    if expires is None or expires <= datetime.now(UTC) or user.disabled:
        return None
    return user, str(row["csrf"])


def delete_session(store: Store, token_sha256: str) -> None:
    with store.session() as s:
        s.execute(delete(web_sessions).where(web_sessions.c.token_sha256 == token_sha256))
        s.commit()


def add_acceptance(store: Store, *, rule: str, target: str, finding_id: int | None, reason: str,
                   expires: datetime, accepted_by: str) -> Acceptance:
    with store.session() as s:
        new_id = s.execute(insert(risk_acceptances).values(
            rule=rule, target=target, finding_id=finding_id, reason=reason, expires=expires,
            accepted_by=accepted_by, created=datetime.now(UTC)).returning(risk_acceptances.c.id)).scalar_one()
        s.commit()
    out = [a for a in acceptances_for(store, [(rule, target)], include_expired=True) if a.id == new_id]
    return out[0]


def _acceptance(row: RowMapping) -> Acceptance:
    expires, created = _tz(row["expires"]), _tz(row["created"])
    assert expires is not None and created is not None
    return Acceptance(id=row["id"], rule=row["rule"], target=row["target"], finding_id=row["finding_id"],
                      reason=row["reason"], expires=expires, accepted_by=row["accepted_by"], created=created)


def acceptances_for(store: Store, keys: Iterable[tuple[str, str]], *, include_expired: bool = False,
                    now: datetime | None = None) -> list[Acceptance]:
    """Acceptances of the given (rule, target) pairs, newest first (unexpired ones unless asked)."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return []
    now = now or datetime.now(UTC)
    out: list[Acceptance] = []
    with store.session() as s:
        for i in range(0, len(keys), 200):
            q = select(risk_acceptances).where(
                tuple_(risk_acceptances.c.rule, risk_acceptances.c.target).in_(keys[i:i + 200]))
            out.extend(_acceptance(r) for r in s.execute(q).mappings())
    if not include_expired:
        out = [a for a in out if a.expires > now]
    out.sort(key=lambda a: a.id, reverse=True)
    return out


def list_acceptances(store: Store, *, limit: int = 200) -> list[Acceptance]:
    with store.session() as s:
        q = select(risk_acceptances).order_by(risk_acceptances.c.id.desc()).limit(limit)
        return [_acceptance(r) for r in s.execute(q).mappings()]
