"""propagation queue and background leases

Labels saved on repeated paragraphs wait in `propagation_queue` for the one server process
that holds the "propagation" row of `background_lease` (suggest/training.py).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 10:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'propagation_queue',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('paragraph_id', sa.Integer(), nullable=False),
        sa.Column('label', sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(['paragraph_id'], ['paragraph.id'],
                                name=op.f('fk_propagation_queue_paragraph_id_paragraph'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_propagation_queue')),
    )
    op.create_table(
        'background_lease',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('holder', sa.String(length=255), nullable=False),
        sa.Column('until', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_background_lease')),
    )


def downgrade():
    op.drop_table('background_lease')
    op.drop_table('propagation_queue')
