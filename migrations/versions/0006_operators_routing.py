"""operators, routing and queue columns

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('operators',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('departments', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operators'))
    )
    with op.batch_alter_table('chat_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_locale', sa.String(length=35), nullable=True))
        batch_op.add_column(sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_chat_sessions_queue', ['department', 'status', 'queued_at'], unique=False)
        batch_op.create_index('ix_chat_sessions_dept_assigned', ['department', 'assigned_at'], unique=False)
    # Sessions already waiting keep their place: they entered the queue when last updated.
    op.execute("UPDATE chat_sessions SET queued_at = updated_at WHERE status = 'waiting'")


def downgrade() -> None:
    with op.batch_alter_table('chat_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_chat_sessions_dept_assigned')
        batch_op.drop_index('ix_chat_sessions_queue')
        batch_op.drop_column('assigned_at')
        batch_op.drop_column('queued_at')
        batch_op.drop_column('user_locale')

    op.drop_table('operators')
