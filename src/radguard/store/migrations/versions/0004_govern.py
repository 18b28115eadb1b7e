"""governance: self-assessment answers (versioned), obligation records, risk register edits and snapshots

Revision ID: 0004_govern
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_govern"
down_revision = "0001"
branch_labels = ("govern",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "govern_assessments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished", sa.DateTime(timezone=True), nullable=True),
        sa.Column("who", sa.String(128), nullable=False),
        sa.Column("template", sa.String(128), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_table(
        "govern_answers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("assessment_id", sa.Integer, sa.ForeignKey("govern_assessments.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("question", sa.String(64), nullable=False),
        sa.Column("value", sa.JSON, nullable=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("who", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_govern_answers_assessment_id", "govern_answers", ["assessment_id"])
    op.create_index("ix_govern_answers_question", "govern_answers", ["question"])
    op.create_table(
        "govern_records",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("obligation", sa.String(64), nullable=False),
        sa.Column("date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("who", sa.String(128), nullable=False),
        sa.Column("recorded", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_govern_records_obligation", "govern_records", ["obligation"])
    op.create_table(
        "govern_risks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(255), nullable=False, unique=True),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("who", sa.String(128), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "govern_risk_snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("register", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("govern_risk_snapshots")
    op.drop_table("govern_risks")
    op.drop_table("govern_records")
    op.drop_index("ix_govern_answers_question", "govern_answers")
    op.drop_index("ix_govern_answers_assessment_id", "govern_answers")
    op.drop_table("govern_answers")
    op.drop_table("govern_assessments")
