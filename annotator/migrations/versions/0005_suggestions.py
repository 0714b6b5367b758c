"""suggestions

The source of every annotation and earlier value (human or an accepted suggestion); each
project's suggestion settings; each article's site and each paragraph's repetition key
(backfilled here) and HTML structure; the stored suggestions and each project's model.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 16:00:00

"""
from alembic import op
import sqlalchemy as sa

from annotator.services.text import site_of, text_key


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

BATCH = 5000


def backfill_sites(connection) -> None:
    article = sa.table('article', sa.column('id', sa.Integer()), sa.column('url', sa.Text()),
                       sa.column('meta', sa.JSON()), sa.column('site', sa.String()))
    update = (article.update().where(article.c.id == sa.bindparam('article_id'))
              .values(site=sa.bindparam('new_site')))
    last = 0
    while rows := connection.execute(
            sa.select(article.c.id, article.c.meta, article.c.url).where(article.c.id > last)
            .order_by(article.c.id).limit(BATCH)).all():
        changes = [{'article_id': id_, 'new_site': site}
                   for id_, meta, url in rows if (site := site_of(meta, url))]
        if changes:
            connection.execute(update, changes)
        last = rows[-1][0]


def backfill_text_keys(connection) -> None:
    paragraph = sa.table('paragraph', sa.column('id', sa.Integer()), sa.column('text', sa.Text()),
                         sa.column('text_key', sa.String()))
    update = (paragraph.update().where(paragraph.c.id == sa.bindparam('paragraph_id'))
              .values(text_key=sa.bindparam('key')))
    last = 0
    while rows := connection.execute(
            sa.select(paragraph.c.id, paragraph.c.text).where(paragraph.c.id > last)
            .order_by(paragraph.c.id).limit(BATCH)).all():
        connection.execute(update, [{'paragraph_id': id_, 'key': text_key(text)}
                                    for id_, text in rows])
        last = rows[-1][0]


def upgrade():
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), server_default='human',
                                      nullable=False))
    with op.batch_alter_table('annotation_history', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), server_default='human',
                                      nullable=False))
    # Not in batch mode: for a default that is an expression (true) SQLite's batch mode copies
    # the table, and dropping the old project table would cascade to every article.
    op.add_column('project', sa.Column('suggestions_enabled', sa.Boolean(),
                                       server_default=sa.true(), nullable=False))
    op.add_column('project', sa.Column('suggestion_threshold', sa.Float(), server_default='0.8',
                                       nullable=False))
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.add_column(sa.Column('site', sa.String(length=255), server_default='',
                                      nullable=False))
    with op.batch_alter_table('paragraph', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text_key', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('features', sa.JSON(), nullable=True))

    connection = op.get_bind()
    backfill_sites(connection)
    backfill_text_keys(connection)
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.create_index('ix_article_project_site', ['project_id', 'site'], unique=False)
    with op.batch_alter_table('paragraph', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_paragraph_text_key'), ['text_key'], unique=False)

    op.create_table(
        'suggestion',
        sa.Column('paragraph_id', sa.Integer(), nullable=False),
        sa.Column('label', sa.String(length=32), nullable=False),
        sa.Column('confidence', sa.Float(), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('model', sa.String(length=64), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['paragraph_id'], ['paragraph.id'],
                                name=op.f('fk_suggestion_paragraph_id_paragraph'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('paragraph_id', name=op.f('pk_suggestion')))
    op.create_table(
        'suggestion_model',
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('trained_at', sa.DateTime(), nullable=True),
        sa.Column('trained_on', sa.Integer(), nullable=False),
        sa.Column('human_labels_seen', sa.Integer(), nullable=False),
        sa.Column('blob', sa.LargeBinary(), nullable=True),
        sa.Column('metrics', sa.JSON(), nullable=True),
        sa.Column('lease_until', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'],
                                name=op.f('fk_suggestion_model_project_id_project'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('project_id', name=op.f('pk_suggestion_model')))


def downgrade():
    # Plain DROP COLUMN (SQLite 3.35+), not batch mode: a copied table's drop would cascade.
    op.drop_table('suggestion_model')
    op.drop_table('suggestion')
    op.drop_index('ix_paragraph_text_key', table_name='paragraph')
    op.drop_column('paragraph', 'features')
    op.drop_column('paragraph', 'text_key')
    op.drop_index('ix_article_project_site', table_name='article')
    op.drop_column('article', 'site')
    op.drop_column('project', 'suggestion_threshold')
    op.drop_column('project', 'suggestions_enabled')
    op.drop_column('annotation_history', 'source')
    op.drop_column('annotation', 'source')
