"""The console's user-access log: every login, failed login, logout and action as a DICOM audit message.

Logins and logouts are User Authentication messages (DICOM PS3.15 A.5.3.14); actions (containment,
accepted risks, accounts) and refused requests are Security Alerts (A.5.3.13) naming the user. They go
to the JSON Lines file and, when configured, to the ATNA syslog collector (RFC 5424/5425), through the
same never-blocking :class:`~radguard.audittrail.trail.AuditTrail` the gateway uses. No PHI: only user
names, client addresses, AE titles and rule ids appear.
"""

from __future__ import annotations

from pathlib import Path

from radguard.audittrail.codes import EventTypeCode, Outcome
from radguard.audittrail.messages import security_alert, user_authentication
from radguard.audittrail.trail import AuditTrail

SOURCE_ID = "RADGUARD-WEB"


class ConsoleAudit:
    """Builds the console's audit records and hands them to the trail."""

    def __init__(self, jsonl: Path, syslog: str | None = None, spool: Path | None = None) -> None:
        sender = None
        if syslog:
            from radguard.audittrail.syslog import SyslogTarget, make_sender

            sender = make_sender(SyslogTarget.parse(syslog))
        self.trail = AuditTrail(jsonl=jsonl, sender=sender,
                                spool_dir=(spool or jsonl.with_name("web-audit-spool")) if sender else None)

    def login(self, user: str, host: str | None, *, ok: bool, reason: str | None = None) -> None:
        self.trail.emit(user_authentication(
            login=True, user_id=user or "-", host=host, source_id=SOURCE_ID,
            outcome=Outcome.SUCCESS if ok else Outcome.MINOR_FAILURE,
            description=f"console login{'' if ok else ' failed: ' + (reason or 'refused')}"))

    def logout(self, user: str, host: str | None) -> None:
        self.trail.emit(user_authentication(login=False, user_id=user, host=host, source_id=SOURCE_ID,
                                            description="console logout"))

    def action(self, user: str, host: str | None, what: str, *, subject: str | None = None, ok: bool = True,
               kind: EventTypeCode = EventTypeCode.USE_OF_RESTRICTED_FUNCTION) -> None:
        """An action of a user (``what`` is a short description without PHI)."""
        self.trail.emit(security_alert(
            alert=kind, reporter=SOURCE_ID, subject_ae=subject, subject_host=host, user_id=user,
            outcome=Outcome.SUCCESS if ok else Outcome.MINOR_FAILURE, description=what, source_id=SOURCE_ID))

    def refused(self, user: str | None, host: str | None, what: str) -> None:
        """A refused request (no session, wrong role, bad CSRF token, rate limit)."""
        self.trail.emit(security_alert(
            alert=EventTypeCode.USE_OF_RESTRICTED_FUNCTION, reporter=SOURCE_ID, subject_host=host,
            user_id=user or "-", outcome=Outcome.MINOR_FAILURE, description=what, source_id=SOURCE_ID))

    def close(self) -> None:
        self.trail.flush(5.0)
        self.trail.close()
