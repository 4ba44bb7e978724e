"""push devices and outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('devices',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('token', sa.String(length=512), nullable=False),
    sa.Column('owner_type', sa.String(length=16), nullable=False),
    sa.Column('owner_id', sa.String(length=128), nullable=False),
    sa.Column('owner_role', sa.String(length=16), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('locale', sa.String(length=35), nullable=False),
    sa.Column('app_version', sa.String(length=64), nullable=True),
    sa.Column('departments', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('token', name=op.f('uq_devices_token'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index('ix_devices_owner', ['owner_type', 'owner_id'], unique=False)

    op.create_table('push_outbox',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('device_id', sa.String(length=40), nullable=True),
    sa.Column('recipient_type', sa.String(length=16), nullable=False),
    sa.Column('recipient_id', sa.String(length=128), nullable=False),
    sa.Column('session_id', sa.String(length=40), nullable=False),
    sa.Column('message_id', sa.String(length=40), nullable=True),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claim_id', sa.String(length=40), nullable=True),
    sa.Column('last_error', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_push_outbox_device_id_devices'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_push_outbox_message_id_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['chat_sessions.id'], name=op.f('fk_push_outbox_session_id_chat_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_outbox'))
    )
    with op.batch_alter_table('push_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_push_outbox_recipient_session', ['recipient_id', 'session_id'], unique=False)
        batch_op.create_index('ix_push_outbox_status_created', ['status', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_push_outbox_status_due', ['status', 'due_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('push_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_push_outbox_status_due')
        batch_op.drop_index('ix_push_outbox_status_created')
        batch_op.drop_index('ix_push_outbox_recipient_session')

    op.drop_table('push_outbox')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index('ix_devices_owner')

    op.drop_table('devices')
