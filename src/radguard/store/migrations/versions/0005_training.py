"""workforce training: roster, lesson completions, imported phishing-simulation campaigns and results

Revision ID: 0005_training
Revises: 0004_govern
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005_training"
down_revision = "0004_govern"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def _col(name: str, *kind: Any, **kw: Any) -> sa.Column[Any]:
    """A column, NOT NULL unless said otherwise."""
    kw.setdefault("nullable", False)
    return sa.Column(name, *kind, **kw)


def _table(name: str, *columns: sa.Column[Any], index: tuple[str, ...] = ()) -> None:
    """A table with an integer primary key ``id``, and an index per column named in ``index``."""
    op.create_table(name, sa.Column("id", sa.Integer, primary_key=True), *columns)
    for column in index:
        op.create_index(f"ix_{name}_{column}", name, [column])


def upgrade() -> None:
    _table("training_people", _col("person", sa.String(64), unique=True), _col("name", sa.String(128)),
           _col("role", sa.String(64)), _col("department", sa.String(128)), _col("email", sa.String(254)),
           _col("active", sa.Boolean), _col("updated", WHEN), index=("email",))
    _table("training_completions", _col("person", sa.String(64)), _col("lesson", sa.String(64)),
           _col("version", sa.Integer), _col("score", sa.Integer), _col("total", sa.Integer),
           _col("passed", sa.Boolean), _col("taken", WHEN), _col("source", sa.String(16)), index=("person",))
    _table("training_campaigns", _col("gophish_id", sa.Integer, nullable=True), _col("name", sa.String(255)),
           _col("launched", WHEN, nullable=True), _col("imported", WHEN), _col("source", sa.String(16)),
           _col("sha256", sa.String(64)))
    _table("training_phish_results",
           _col("campaign_id", sa.Integer, sa.ForeignKey("training_campaigns.id", ondelete="CASCADE")),
           _col("email", sa.String(254)), _col("stage", sa.Integer), _col("reported", sa.Boolean),
           _col("sent", WHEN, nullable=True), index=("campaign_id",))


def downgrade() -> None:
    for name in ("training_phish_results", "training_campaigns", "training_completions", "training_people"):
        op.drop_table(name)  # SQLite and PostgreSQL drop a table's indexes with it
