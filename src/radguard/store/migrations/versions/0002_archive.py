"""archive ledger: sealed objects, sealed roots, signed Merkle roots

Revision ID: 0002_archive
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_archive"
down_revision = "0001"
branch_labels = ("archive",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_roots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("path", sa.Text, nullable=False, unique=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run", sa.Integer, nullable=True),
    )
    op.create_table(
        "archive_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("root", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False, unique=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("dicom", sa.Boolean, nullable=False),
        sa.Column("sop_instance_uid", sa.String(64), nullable=True),
        sa.Column("series_uid", sa.String(64), nullable=True),
        sa.Column("study_uid", sa.String(64), nullable=True),
        sa.Column("sop_class_uid", sa.String(64), nullable=True),
        sa.Column("transfer_syntax", sa.String(64), nullable=True),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("meta_sha256", sa.String(64), nullable=True),
        sa.Column("header_sha256", sa.String(64), nullable=True),
        sa.Column("pixel_sha256", sa.String(64), nullable=True),
        sa.Column("pixel_canonical_sha256", sa.String(64), nullable=True),
        sa.Column("elements", sa.Text, nullable=False),
        sa.Column("layout", sa.Text, nullable=True),
        sa.Column("canary", sa.Boolean, nullable=False),
        sa.Column("checks", sa.Text, nullable=True),
        sa.Column("checks_version", sa.String(16), nullable=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("seen_run", sa.Integer, nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leaf", sa.String(64), nullable=False),
    )
    op.create_index("ix_archive_entries_root", "archive_entries", ["root"])
    op.create_index("ix_archive_entries_sop", "archive_entries", ["sop_instance_uid"])
    op.create_index("ix_archive_entries_study", "archive_entries", ["study_uid"])
    op.create_table(
        "archive_signatures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("leaves", sa.Integer, nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_archive_signatures_scope_key", "archive_signatures", ["scope", "key"])


def downgrade() -> None:
    op.drop_table("archive_signatures")
    op.drop_table("archive_entries")
    op.drop_table("archive_roots")
