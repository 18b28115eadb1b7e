"""workforce training: roster, lesson completions, imported phishing-simulation campaigns and results

Revision ID: 0005_training
Revises: 0004_govern
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_training"
down_revision = "0004_govern"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_people",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("department", sa.String(128), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_training_people_email", "training_people", ["email"])
    op.create_table(
        "training_completions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("lesson", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("taken", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
    )
    op.create_index("ix_training_completions_person", "training_completions", ["person"])
    op.create_table(
        "training_campaigns",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("gophish_id", sa.Integer, nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("launched", sa.DateTime(timezone=True), nullable=True),
        sa.Column("imported", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_table(
        "training_phish_results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("training_campaigns.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("stage", sa.Integer, nullable=False),
        sa.Column("reported", sa.Boolean, nullable=False),
        sa.Column("sent", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_training_phish_results_campaign_id", "training_phish_results", ["campaign_id"])


def downgrade() -> None:
    op.drop_index("ix_training_phish_results_campaign_id", "training_phish_results")
    op.drop_table("training_phish_results")
    op.drop_table("training_campaigns")
    op.drop_index("ix_training_completions_person", "training_completions")
    op.drop_table("training_completions")
    op.drop_index("ix_training_people_email", "training_people")
    op.drop_table("training_people")
