"""online experiments: experiments, variants linked to runs, per-user assignments and values

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _experiment_fk() -> sa.Column:
    return sa.Column("experiment_id", sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("spec", _json(), nullable=False),
        sa.Column("metrics", _json(), nullable=False),
        sa.Column("pre", _json(), nullable=False),
        sa.Column("source", _json(), nullable=False),
        sa.Column("n_users", sa.Integer(), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
        sa.UniqueConstraint("name", name=op.f("uq_experiments_name")),
    )
    op.create_table(
        "experiment_variants",
        _experiment_fk(),
        sa.Column("variant", sa.String(length=200), nullable=False),
        sa.Column("n_users", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_variants_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_experiment_variants_run_id_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("experiment_id", "variant", name=op.f("pk_experiment_variants")),
    )
    op.create_table(
        "experiment_users",
        _experiment_fk(),
        sa.Column("user_id", sa.String(length=512), nullable=False),
        sa.Column("variant", sa.String(length=200), nullable=False),
        sa.Column("assigned_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_users_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", "user_id", name=op.f("pk_experiment_users")),
    )
    op.create_table(
        "experiment_values",
        _experiment_fk(),
        sa.Column("user_id", sa.String(length=512), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_values_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "experiment_id", "user_id", "name", name=op.f("pk_experiment_values")
        ),
    )


def downgrade() -> None:
    op.drop_table("experiment_values")
    op.drop_table("experiment_users")
    op.drop_table("experiment_variants")
    op.drop_table("experiments")
