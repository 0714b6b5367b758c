"""calibration and hidden checks

Calibration articles (an admin marks articles with gold labels), each project's
recalibration switch and hidden-check rate, and each annotator's attempts on gold articles
with the results frozen when they marked one done (services/calibration.py).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 00:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    # Not in batch mode: SQLite's batch mode copies the table (dropping the old project or
    # article table would cascade to everything in it).
    op.add_column('article', sa.Column('calibration', sa.Boolean(), server_default=sa.false(),
                                       nullable=False))
    op.create_index('ix_article_project_calibration', 'article', ['project_id', 'calibration'])
    op.add_column('project', sa.Column('recalibrate', sa.Boolean(), server_default=sa.false(),
                                       nullable=False))
    op.add_column('project', sa.Column('check_rate', sa.Float(), server_default='0',
                                       nullable=False))
    op.create_table(
        'gold_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('article_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('guideline_version', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('done_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'],
                                name=op.f('fk_gold_attempt_project_id_project'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'],
                                name=op.f('fk_gold_attempt_user_id_user'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['article_id'], ['article.id'],
                                name=op.f('fk_gold_attempt_article_id_article'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_gold_attempt')),
        sa.UniqueConstraint('user_id', 'article_id', 'kind', 'guideline_version',
                            name=op.f('uq_gold_attempt_user_id_article_id_kind_guideline_version')))
    op.create_index('ix_gold_attempt_project_user', 'gold_attempt', ['project_id', 'user_id'])
    op.create_table(
        'gold_result',
        sa.Column('attempt_id', sa.Integer(), nullable=False),
        sa.Column('paragraph_id', sa.Integer(), nullable=False),
        sa.Column('label', sa.String(length=32), nullable=True),
        sa.Column('gold_label', sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(['attempt_id'], ['gold_attempt.id'],
                                name=op.f('fk_gold_result_attempt_id_gold_attempt'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['paragraph_id'], ['paragraph.id'],
                                name=op.f('fk_gold_result_paragraph_id_paragraph'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('attempt_id', 'paragraph_id', name=op.f('pk_gold_result')))


def downgrade():
    op.drop_table('gold_result')
    op.drop_index('ix_gold_attempt_project_user', table_name='gold_attempt')
    op.drop_table('gold_attempt')
    # Plain DROP COLUMN (SQLite 3.35+), not batch mode: a copied table's drop would cascade.
    op.drop_column('project', 'check_rate')
    op.drop_column('project', 'recalibrate')
    op.drop_index('ix_article_project_calibration', table_name='article')
    op.drop_column('article', 'calibration')
