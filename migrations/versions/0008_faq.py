"""FAQ articles, search index, bot self-service (issue 12)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('faq_articles',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('locales', sa.JSON(), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faq_articles'))
    )
    with op.batch_alter_table('faq_articles', schema=None) as batch_op:
        batch_op.create_index('ix_faq_articles_category', ['category'], unique=False)

    op.create_table('faq_misses',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('query', sa.String(length=200), nullable=False),
    sa.Column('locale', sa.String(length=35), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faq_misses'))
    )
    with op.batch_alter_table('faq_misses', schema=None) as batch_op:
        batch_op.create_index('ix_faq_misses_created_at', ['created_at'], unique=False)

    state = op.create_table('faq_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('seeded_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faq_state'))
    )
    # The one row every process reads before a search (models/faq.py FaqState).
    op.bulk_insert(state, [{'id': 1, 'version': 0, 'seeded_at': None}])
    op.create_table('faq_views',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('article_id', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.String(length=40), nullable=True),
    sa.Column('viewer_type', sa.String(length=16), nullable=False),
    sa.Column('viewer_id', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faq_views'))
    )
    with op.batch_alter_table('faq_views', schema=None) as batch_op:
        batch_op.create_index('ix_faq_views_created_at', ['created_at'], unique=False)

    with op.batch_alter_table('chat_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('close_reason', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('bot_offered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('self_resolved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('handed_off_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('self_resolve_reopened_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_chat_sessions_bot_offered_at', ['bot_offered_at'], unique=False)

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suggestions', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('suggestions')

    with op.batch_alter_table('chat_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_chat_sessions_bot_offered_at')
        batch_op.drop_column('self_resolve_reopened_at')
        batch_op.drop_column('handed_off_at')
        batch_op.drop_column('self_resolved_at')
        batch_op.drop_column('bot_offered_at')
        batch_op.drop_column('close_reason')

    with op.batch_alter_table('faq_views', schema=None) as batch_op:
        batch_op.drop_index('ix_faq_views_created_at')

    op.drop_table('faq_views')
    op.drop_table('faq_state')
    with op.batch_alter_table('faq_misses', schema=None) as batch_op:
        batch_op.drop_index('ix_faq_misses_created_at')

    op.drop_table('faq_misses')
    with op.batch_alter_table('faq_articles', schema=None) as batch_op:
        batch_op.drop_index('ix_faq_articles_category')

    op.drop_table('faq_articles')
