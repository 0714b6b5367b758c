"""article source

Where each article was imported from: its file (relative to the folder given to `flask
import`, or the uploaded file's name) and, for a jsonl record, its line. Articles imported
before this revision have neither.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 18:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    # Not in batch mode: SQLite's batch mode copies the table (and its dependants' cascades).
    op.add_column('article', sa.Column('source_file', sa.Text(), nullable=True))
    op.add_column('article', sa.Column('source_line', sa.Integer(), nullable=True))


def downgrade():
    # Plain DROP COLUMN (SQLite 3.35+), not batch mode: a copied table's drop would cascade.
    op.drop_column('article', 'source_line')
    op.drop_column('article', 'source_file')
