"""guideline versions

Each project's guidelines and label set, numbered 1, 2, ... whenever either changes
(services/guideline_versions.py), and the version in force on every annotation, gold
label and history row. Every stored project gets version 1 from its current guidelines
and labels; every stored label is counted as made under it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 22:40:00

"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

LABELED = ('annotation', 'gold', 'annotation_history')


def _first_versions() -> None:
    """Version 1 of every stored project: its guidelines and label set as they are."""
    connection = op.get_bind()
    project = sa.table('project', sa.column('id', sa.Integer()), sa.column('guidelines', sa.Text()))
    label = sa.table('label', *(sa.column(name) for name in (
        'project_id', 'key', 'name', 'description', 'position')))
    version = sa.table('guideline_version', sa.column('project_id', sa.Integer()),
                       sa.column('number', sa.Integer()), sa.column('guidelines', sa.Text()),
                       sa.column('labels', sa.JSON()), sa.column('created_at', sa.DateTime()))
    now = datetime.now(UTC).replace(tzinfo=None)
    labels: dict[int, list[dict]] = {}
    for project_id, key, name, description in connection.execute(
            sa.select(label.c.project_id, label.c.key, label.c.name, label.c.description)
            .order_by(label.c.project_id, label.c.position, label.c.key)):
        labels.setdefault(project_id, []).append(
            {"key": key, "name": name, "description": description or ""})
    rows = [{"project_id": project_id, "number": 1, "guidelines": guidelines or "",
             "labels": labels.get(project_id, []), "created_at": now}
            for project_id, guidelines in connection.execute(
                sa.select(project.c.id, project.c.guidelines))]
    for row in rows:
        connection.execute(version.insert().values(**row))


def upgrade():
    op.create_table(
        'guideline_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('guidelines', sa.Text(), nullable=False),
        sa.Column('labels', sa.JSON(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'],
                                name=op.f('fk_guideline_version_project_id_project'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'],
                                name=op.f('fk_guideline_version_created_by_id_user'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_guideline_version')),
        sa.UniqueConstraint('project_id', 'number',
                            name=op.f('uq_guideline_version_project_id_number')))
    # Not in batch mode: SQLite's batch mode copies the table (dropping the old project
    # table would cascade to everything in it).
    op.add_column('project', sa.Column('guideline_version', sa.Integer(), server_default='1',
                                       nullable=False))
    for table in LABELED:
        op.add_column(table, sa.Column('guideline_version', sa.Integer(), nullable=True))
        op.execute(sa.table(table, sa.column('guideline_version', sa.Integer()))
                   .update().values(guideline_version=1))
    _first_versions()


def downgrade():
    for table in LABELED:
        op.drop_column(table, 'guideline_version')
    op.drop_column('project', 'guideline_version')
    op.drop_table('guideline_version')
