"""archive: each root's leaves in entry id order in one index (Merkle roots read without the entries' rows)

Revision ID: 0007_archive_leaves
Revises: 0006_archive_stat
"""

from alembic import op

revision = "0007_archive_leaves"
down_revision = "0006_archive_stat"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # what the Merkle roots of a sealed root and its studies are computed from (study_uid, leaf in id
    # order), read from the index alone: the leaf is the last column of a row whose element digests and
    # checks often overflow its page (issue 15)
    op.create_index("ix_archive_entries_root_leaf", "archive_entries", ["root", "id", "study_uid", "leaf"])


def downgrade() -> None:
    op.drop_index("ix_archive_entries_root_leaf", "archive_entries")
