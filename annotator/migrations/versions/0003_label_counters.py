"""label counters

Annotations per paragraph, labeled paragraphs and finished annotators per article, and each
user's current labels per project, label and day; an index of each project's articles in
import order.

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


def backfill(day_of_created_at: str) -> list[str]:
    """The counts annotator.services.progress.recount sets (a migration keeps its own copy)."""
    return [
        "UPDATE paragraph SET annotation_count = "
        "(SELECT count(*) FROM annotation WHERE annotation.paragraph_id = paragraph.id)",
        "UPDATE article SET labeled_count = (SELECT count(*) FROM paragraph "
        "WHERE paragraph.article_id = article.id AND paragraph.annotation_count > 0)",
        "UPDATE article SET finished_count = (SELECT count(*) FROM assignment "
        "WHERE assignment.article_id = article.id AND assignment.finished_at IS NOT NULL)",
        "INSERT INTO label_count (project_id, user_id, label, day, count) "
        f"SELECT article.project_id, annotation.user_id, annotation.label, {day_of_created_at}, "
        "count(*) FROM annotation "
        "JOIN paragraph ON paragraph.id = annotation.paragraph_id "
        "JOIN article ON article.id = paragraph.article_id "
        f"GROUP BY article.project_id, annotation.user_id, annotation.label, {day_of_created_at}",
    ]


def upgrade():
    op.create_table(
        'label_count',
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('label', sa.String(length=32), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'],
                                name=op.f('fk_label_count_project_id_project'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'],
                                name=op.f('fk_label_count_user_id_user'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('project_id', 'user_id', 'label', 'day',
                                name=op.f('pk_label_count')))
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.add_column(sa.Column('labeled_count', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('finished_count', sa.Integer(), server_default='0',
                                      nullable=False))
    with op.batch_alter_table('paragraph', schema=None) as batch_op:
        batch_op.add_column(sa.Column('annotation_count', sa.Integer(), server_default='0',
                                      nullable=False))
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in backfill("date(annotation.created_at)" if sqlite
                              else "CAST(annotation.created_at AS DATE)"):
        op.execute(statement)
    with op.batch_alter_table('paragraph', schema=None) as batch_op:
        batch_op.create_index('ix_paragraph_article_annotations',
                              ['article_id', 'annotation_count'], unique=False)
    # A project's articles in import order, so "the first article that still needs someone"
    # stops at the first match instead of sorting the whole project.
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.create_index('ix_article_project_order', ['project_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.drop_index('ix_article_project_order')
    with op.batch_alter_table('paragraph', schema=None) as batch_op:
        batch_op.drop_index('ix_paragraph_article_annotations')
        batch_op.drop_column('annotation_count')
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.drop_column('finished_count')
        batch_op.drop_column('labeled_count')
    op.drop_table('label_count')
