"""cold scoring pending

Whether an article's cold suggestions (suggest/signals.py) are stored: a large import
leaves them to be scored after it (docs/suggestions.md). Articles already stored were
scored at their import.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 18:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    # Not in batch mode: SQLite's batch mode copies the table, and dropping the old article
    # table would cascade to every paragraph.
    op.add_column('article', sa.Column('signals_scored', sa.Boolean(),
                                       server_default=sa.false(), nullable=False))
    article = sa.table('article', sa.column('signals_scored', sa.Boolean()))
    op.execute(article.update().values(signals_scored=True))
    op.create_index('ix_article_scored_project', 'article', ['signals_scored', 'project_id'])


def downgrade():
    op.drop_index('ix_article_scored_project', table_name='article')
    op.drop_column('article', 'signals_scored')
