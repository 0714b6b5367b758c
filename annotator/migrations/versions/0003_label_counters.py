"""label counters: annotations per paragraph, labeled paragraphs per article and per user

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# The same counts as annotator.services.progress.recount (a migration keeps its own copy).
BACKFILL = [
    "UPDATE paragraph SET annotation_count = "
    "(SELECT count(*) FROM annotation WHERE annotation.paragraph_id = paragraph.id)",
    "UPDATE article SET labeled_count = (SELECT count(*) FROM paragraph "
    "WHERE paragraph.article_id = article.id AND paragraph.annotation_count > 0)",
    "INSERT INTO user_progress (project_id, user_id, labeled) "
    "SELECT article.project_id, annotation.user_id, count(*) FROM annotation "
    "JOIN paragraph ON paragraph.id = annotation.paragraph_id "
    "JOIN article ON article.id = paragraph.article_id "
    "GROUP BY article.project_id, annotation.user_id",
]


def upgrade():
    op.create_table(
        'user_progress',
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('labeled', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'],
                                name=op.f('fk_user_progress_project_id_project'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'],
                                name=op.f('fk_user_progress_user_id_user'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('project_id', 'user_id', name=op.f('pk_user_progress')))
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.add_column(sa.Column('labeled_count', sa.Integer(), server_default='0',
                                      nullable=False))
    with op.batch_alter_table('paragraph', schema=None) as batch_op:
        batch_op.add_column(sa.Column('annotation_count', sa.Integer(), server_default='0',
                                      nullable=False))
    for statement in BACKFILL:
        op.execute(statement)


def downgrade():
    with op.batch_alter_table('paragraph', schema=None) as batch_op:
        batch_op.drop_column('annotation_count')
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.drop_column('labeled_count')
    op.drop_table('user_progress')
