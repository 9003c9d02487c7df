"""exported tables keep the item's title and the reason, as the CSV and Parquet exports do

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable: tables exported before this revision have neither, and a dataset without
    # titles or an export without reasons leaves them empty
    op.add_column("exported_recommendations", sa.Column("title", sa.Text(), nullable=True))
    op.add_column("exported_recommendations", sa.Column("reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exported_recommendations") as batch:
        batch.drop_column("reason")
        batch.drop_column("title")
