"""chat core: sessions, messages, read states

Revision ID: 0001
Revises: 
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('chat_sessions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('user_name', sa.String(length=200), nullable=True),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('department', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('operator_id', sa.String(length=128), nullable=True),
    sa.Column('operator_name', sa.String(length=200), nullable=True),
    sa.Column('client_context', sa.JSON(), nullable=True),
    sa.Column('open_key', sa.String(length=128), nullable=True),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_sessions')),
    sa.UniqueConstraint('user_id', 'open_key', name=op.f('uq_chat_sessions_user_id_open_key'))
    )
    with op.batch_alter_table('chat_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_chat_sessions_operator_status', ['operator_id', 'status'], unique=False)
        batch_op.create_index('ix_chat_sessions_status_created', ['status', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_chat_sessions_user_created', ['user_id', 'created_at', 'id'], unique=False)

    op.create_table('messages',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('session_id', sa.String(length=40), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('sender_type', sa.String(length=16), nullable=False),
    sa.Column('sender_id', sa.String(length=128), nullable=True),
    sa.Column('sender_name', sa.String(length=200), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('client_msg_id', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['chat_sessions.id'], name=op.f('fk_messages_session_id_chat_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sa.UniqueConstraint('session_id', 'sender_type', 'sender_id', 'client_msg_id', name=op.f('uq_messages_session_id_sender_type_sender_id_client_msg_id')),
    sa.UniqueConstraint('session_id', 'seq', name=op.f('uq_messages_session_id_seq'))
    )
    op.create_table('read_states',
    sa.Column('session_id', sa.String(length=40), nullable=False),
    sa.Column('reader_type', sa.String(length=16), nullable=False),
    sa.Column('reader_id', sa.String(length=128), nullable=False),
    sa.Column('last_read_seq', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['chat_sessions.id'], name=op.f('fk_read_states_session_id_chat_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'reader_type', 'reader_id', name=op.f('pk_read_states'))
    )


def downgrade() -> None:
    op.drop_table('read_states')
    op.drop_table('messages')
    with op.batch_alter_table('chat_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_chat_sessions_user_created')
        batch_op.drop_index('ix_chat_sessions_status_created')
        batch_op.drop_index('ix_chat_sessions_operator_status')

    op.drop_table('chat_sessions')
