"""console pages: findings filtered by rule read in page order; monitor alerts by run

Revision ID: 0005_console_pages
Revises: 0004_console
"""

from alembic import op

revision = "0005_console_pages"
down_revision = "0004_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a findings page filtered by rule: (run, severity, rule) equal, ids in order (keyset / OFFSET on ids)
    op.create_index("ix_findings_run_severity_rule_id", "findings", ["run_id", "severity", "rule", "id"])
    # the monitor alerts page: the events of one run, newest first
    op.create_index("ix_events_run_id_id", "events", ["run_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_events_run_id_id", "events")
    op.drop_index("ix_findings_run_severity_rule_id", "findings")
