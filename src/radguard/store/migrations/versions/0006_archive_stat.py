"""archive: the entries' path, size and modification time in one index (a re-seal reads only that index)

Revision ID: 0006_archive_stat
Revises: 0002_archive
"""

from alembic import op

revision = "0006_archive_stat"
down_revision = "0002_archive"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # what a re-seal compares with the walk, for a range of paths in path order (or a list of paths),
    # read from the index alone instead of from every entry's row (issue 15)
    op.create_index("ix_archive_entries_path_stat", "archive_entries", ["path", "size", "mtime_ns"])


def downgrade() -> None:
    op.drop_index("ix_archive_entries_path_stat", "archive_entries")
