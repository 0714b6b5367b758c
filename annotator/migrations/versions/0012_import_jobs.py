"""import jobs

A web import run in the background of the server process that took the upload
(services/import_jobs.py): its file, options, progress, heartbeat and outcome.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 00:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'import_job',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('file_name', sa.String(length=255), nullable=False),
        sa.Column('format', sa.String(length=16), nullable=False),
        sa.Column('options', sa.JSON(), nullable=False),
        sa.Column('path', sa.Text(), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('owner', sa.String(length=255), nullable=False),
        sa.Column('stage', sa.String(length=64), nullable=False),
        sa.Column('records_read', sa.Integer(), nullable=False),
        sa.Column('bytes_read', sa.BigInteger(), nullable=False),
        sa.Column('bytes_total', sa.BigInteger(), nullable=False),
        sa.Column('added', sa.Integer(), nullable=False),
        sa.Column('skipped', sa.Integer(), nullable=False),
        sa.Column('paragraphs', sa.Integer(), nullable=False),
        sa.Column('warc_skipped', sa.JSON(), nullable=False),
        sa.Column('errors', sa.JSON(), nullable=False),
        sa.Column('error_count', sa.Integer(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_job_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_job_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_job_created_at'))
        batch_op.drop_index(batch_op.f('ix_import_job_project_id'))
    op.drop_table('import_job')
