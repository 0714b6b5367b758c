"""spans and links

Each project's span label set and relation set (the defaults given to every project
already stored), and the spans inside paragraphs and the links between them, an
annotator's or adjudicated (`gold`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 21:30:00

"""
from alembic import op
import sqlalchemy as sa

from annotator.models import DEFAULT_RELATIONS, DEFAULT_SPAN_LABELS


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def _vocabulary(name: str, *columns: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        *columns,
        sa.Column('hotkey', sa.String(length=8), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'],
                                name=op.f(f'fk_{name}_project_id_project'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{name}')),
        sa.UniqueConstraint('project_id', 'key', name=op.f(f'uq_{name}_project_id_key')))


def _seed_defaults() -> None:
    """Every stored project gets the default span labels and relations."""
    project = sa.table('project', sa.column('id', sa.Integer()))
    for table, defaults, names in (
            ('span_label', DEFAULT_SPAN_LABELS, ('key', 'name', 'color', 'hotkey')),
            ('relation', DEFAULT_RELATIONS, ('key', 'name', 'hotkey'))):
        target = sa.table(table, *(sa.column(n) for n in (*names, 'project_id', 'position')))
        for position, values in enumerate(defaults):
            constants = [sa.literal(v) for v in values]
            op.execute(target.insert().from_select(
                [*names, 'project_id', 'position'],
                sa.select(*constants, project.c.id, sa.literal(position))))


def upgrade():
    _vocabulary('span_label', sa.Column('color', sa.String(length=16), nullable=False))
    _vocabulary('relation')
    op.create_table(
        'span',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('paragraph_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('gold', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('start', sa.Integer(), nullable=False),
        sa.Column('end', sa.Integer(), nullable=False),
        sa.Column('label', sa.String(length=32), nullable=False),
        sa.Column('source', sa.String(length=16), server_default='human', nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['paragraph_id'], ['paragraph.id'],
                                name=op.f('fk_span_paragraph_id_paragraph'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_span_user_id_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_span')))
    op.create_index('ix_span_paragraph_user', 'span', ['paragraph_id', 'user_id'])
    op.create_index('ix_span_user_paragraph', 'span', ['user_id', 'paragraph_id'])
    op.create_table(
        'link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('article_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('gold', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('from_paragraph_id', sa.Integer(), nullable=True),
        sa.Column('from_span_id', sa.Integer(), nullable=True),
        sa.Column('to_paragraph_id', sa.Integer(), nullable=True),
        sa.Column('to_span_id', sa.Integer(), nullable=True),
        sa.Column('relation', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['article_id'], ['article.id'],
                                name=op.f('fk_link_article_id_article'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_link_user_id_user'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['from_paragraph_id'], ['paragraph.id'],
                                name=op.f('fk_link_from_paragraph_id_paragraph'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['from_span_id'], ['span.id'],
                                name=op.f('fk_link_from_span_id_span'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['to_paragraph_id'], ['paragraph.id'],
                                name=op.f('fk_link_to_paragraph_id_paragraph'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['to_span_id'], ['span.id'],
                                name=op.f('fk_link_to_span_id_span'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_link')))
    op.create_index('ix_link_article_user', 'link', ['article_id', 'user_id'])
    op.create_index(op.f('ix_link_from_span_id'), 'link', ['from_span_id'])
    op.create_index(op.f('ix_link_to_span_id'), 'link', ['to_span_id'])
    _seed_defaults()


def downgrade():
    op.drop_table('link')
    op.drop_table('span')
    op.drop_table('relation')
    op.drop_table('span_label')
