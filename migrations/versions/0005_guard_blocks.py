"""guard blocks

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('guard_blocks',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('session_id', sa.String(length=40), nullable=True),
    sa.Column('sender_type', sa.String(length=16), nullable=False),
    sa.Column('sender_id', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_guard_blocks'))
    )
    with op.batch_alter_table('guard_blocks', schema=None) as batch_op:
        batch_op.create_index('ix_guard_blocks_created', ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('guard_blocks', schema=None) as batch_op:
        batch_op.drop_index('ix_guard_blocks_created')

    op.drop_table('guard_blocks')
