"""trust and safety: risk flags, off-platform refusals, contacts (issue 15)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('chat_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('risk', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('risk_reason', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('risk_flagged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_chat_sessions_risk_flagged_at', ['risk_flagged_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('chat_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_chat_sessions_risk_flagged_at')
        batch_op.drop_column('risk_flagged_at')
        batch_op.drop_column('risk_reason')
        batch_op.drop_column('risk')
