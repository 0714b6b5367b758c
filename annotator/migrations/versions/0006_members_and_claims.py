"""members and claims

Per-project membership (a project open to everyone, as before, or to its members only),
and when an annotator first labeled in an article they hold: until then the hold is only a
short claim (see services/queue.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 18:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # Not in batch mode: SQLite's batch mode copies the table, and dropping the old project
    # table would cascade to every article.
    op.add_column('project', sa.Column('members_only', sa.Boolean(), server_default=sa.false(),
                                       nullable=False))
    op.create_table(
        'project_member',
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'],
                                name=op.f('fk_project_member_project_id_project'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'],
                                name=op.f('fk_project_member_user_id_user'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('project_id', 'user_id', name=op.f('pk_project_member')))
    op.create_index('ix_project_member_user', 'project_member', ['user_id'])
    op.add_column('assignment', sa.Column('labeled_at', sa.DateTime(), nullable=True))
    # A hold on which its annotator already labeled keeps the long release time.
    assignment = sa.table('assignment', sa.column('article_id', sa.Integer()),
                          sa.column('user_id', sa.Integer()), sa.column('touched_at', sa.DateTime()),
                          sa.column('labeled_at', sa.DateTime()))
    annotation = sa.table('annotation', sa.column('paragraph_id', sa.Integer()),
                          sa.column('user_id', sa.Integer()))
    paragraph = sa.table('paragraph', sa.column('id', sa.Integer()),
                         sa.column('article_id', sa.Integer()))
    labeled = (sa.select(annotation.c.paragraph_id)
               .join(paragraph, paragraph.c.id == annotation.c.paragraph_id)
               .where(paragraph.c.article_id == assignment.c.article_id,
                      annotation.c.user_id == assignment.c.user_id).exists())
    op.execute(assignment.update().where(labeled).values(labeled_at=assignment.c.touched_at))


def downgrade():
    # Plain DROP COLUMN (SQLite 3.35+), not batch mode: a copied table's drop would cascade.
    op.drop_column('assignment', 'labeled_at')
    op.drop_index('ix_project_member_user', table_name='project_member')
    op.drop_table('project_member')
    op.drop_column('project', 'members_only')
