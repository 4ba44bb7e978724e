"""operator workflow: internal notes, ratings, canned replies, first-contact times

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('canned_replies',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('locale', sa.String(length=35), nullable=True),
    sa.Column('department', sa.String(length=32), nullable=True),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_canned_replies'))
    )
    with op.batch_alter_table('canned_replies', schema=None) as batch_op:
        batch_op.create_index('ix_canned_replies_department_locale', ['department', 'locale'], unique=False)

    op.create_table('internal_notes',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('session_id', sa.String(length=40), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('after_seq', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.String(length=128), nullable=True),
    sa.Column('author_name', sa.String(length=200), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('client_msg_id', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['chat_sessions.id'], name=op.f('fk_internal_notes_session_id_chat_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_internal_notes')),
    sa.UniqueConstraint('session_id', 'author_id', 'client_msg_id', name=op.f('uq_internal_notes_session_id_author_id_client_msg_id')),
    sa.UniqueConstraint('session_id', 'seq', name=op.f('uq_internal_notes_session_id_seq'))
    )
    with op.batch_alter_table('chat_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_assigned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True))
        # A server default fills existing rows; new rows get theirs from the model.
        batch_op.add_column(sa.Column('last_note_seq', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('rating_score', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rating_comment', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('rated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_chat_sessions_status_updated', ['status', 'updated_at'], unique=False)
        batch_op.create_index('ix_chat_sessions_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_chat_sessions_closed_at', ['closed_at'], unique=False)
        batch_op.create_index('ix_chat_sessions_rated_at', ['rated_at'], unique=False)
    # Sessions taken before this revision: their last assignment is the best first one known.
    op.execute("UPDATE chat_sessions SET first_assigned_at = assigned_at WHERE assigned_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('chat_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_chat_sessions_rated_at')
        batch_op.drop_index('ix_chat_sessions_closed_at')
        batch_op.drop_index('ix_chat_sessions_created_at')
        batch_op.drop_index('ix_chat_sessions_status_updated')
        batch_op.drop_column('rated_at')
        batch_op.drop_column('rating_comment')
        batch_op.drop_column('rating_score')
        batch_op.drop_column('last_note_seq')
        batch_op.drop_column('first_response_at')
        batch_op.drop_column('first_assigned_at')

    op.drop_table('internal_notes')
    with op.batch_alter_table('canned_replies', schema=None) as batch_op:
        batch_op.drop_index('ix_canned_replies_department_locale')

    op.drop_table('canned_replies')
