"""session generations, sign-in throttle, rendered guidelines

Each user's session generation (bumped to sign them out everywhere); the sign-in throttle
(consecutive failures per client address and username, with backoff) replaces the list of
failed sign-ins; each project's guidelines rendered once, on save, and backfilled here.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 15:30:00

"""
from alembic import op
import sqlalchemy as sa

from annotator.rendering import render_markdown


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0',
                                      nullable=False))
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.add_column(sa.Column('guidelines_html', sa.Text(), server_default='',
                                      nullable=False))
    connection = op.get_bind()
    project = sa.table('project', sa.column('id', sa.Integer()),
                       sa.column('guidelines', sa.Text()), sa.column('guidelines_html', sa.Text()))
    for project_id, guidelines in connection.execute(
            sa.select(project.c.id, project.c.guidelines).where(project.c.guidelines != '')).all():
        connection.execute(project.update().where(project.c.id == project_id)
                           .values(guidelines_html=str(render_markdown(guidelines))))

    op.create_table(
        'login_throttle',
        sa.Column('remote_addr', sa.String(length=64), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_attempt_at', sa.DateTime(), nullable=False),
        sa.Column('next_allowed_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('remote_addr', 'username', name=op.f('pk_login_throttle')))
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.create_index('ix_login_throttle_last_attempt_at', ['last_attempt_at'],
                              unique=False)
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failure_username')
        batch_op.drop_index('ix_login_failure_remote_addr')
    op.drop_table('login_failure')


def downgrade():
    op.create_table(
        'login_failure',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('remote_addr', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failure')))
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.create_index('ix_login_failure_remote_addr', ['remote_addr'], unique=False)
        batch_op.create_index('ix_login_failure_username', ['username'], unique=False)
    op.drop_table('login_throttle')
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_column('guidelines_html')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
