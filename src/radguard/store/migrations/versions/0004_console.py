"""console: accounts, sessions and accepted risks of radguard web; indexes of the paginated findings pages

Revision ID: 0004_console
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_console"
down_revision = "0001"
branch_labels = ("console",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "risk_acceptances",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("finding_id", sa.Integer, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_by", sa.String(64), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_risk_acceptances_rule_target", "risk_acceptances", ["rule", "target"])
    # the console's pages: findings of a run by severity in id order; runs by kind, newest first
    op.create_index("ix_findings_run_severity_id", "findings", ["run_id", "severity", "id"])
    op.create_index("ix_runs_kind_id", "runs", ["kind", "id"])


def downgrade() -> None:
    op.drop_index("ix_runs_kind_id", "runs")
    op.drop_index("ix_findings_run_severity_id", "findings")
    op.drop_index("ix_risk_acceptances_rule_target", "risk_acceptances")
    op.drop_table("risk_acceptances")
    op.drop_table("web_sessions")
    op.drop_table("web_users")
