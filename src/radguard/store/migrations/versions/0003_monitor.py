"""monitor records: one row per association / DIMSE operation / connection seen by radguard pcap/monitor

Revision ID: 0003_monitor
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_monitor"
down_revision = "0001"
branch_labels = ("monitor",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_records",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("client_port", sa.Integer, nullable=False),
        sa.Column("server", sa.String(64), nullable=False),
        sa.Column("server_port", sa.Integer, nullable=False),
        sa.Column("calling_ae", sa.String(64), nullable=True),
        sa.Column("called_ae", sa.String(64), nullable=True),
        sa.Column("command", sa.String(32), nullable=True),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_monitor_records_run_kind", "monitor_records", ["run_id", "kind"])
    op.create_index("ix_monitor_records_ts", "monitor_records", ["ts"])


def downgrade() -> None:
    op.drop_index("ix_monitor_records_ts", "monitor_records")
    op.drop_index("ix_monitor_records_run_kind", "monitor_records")
    op.drop_table("monitor_records")
