"""Identity and tracking: profiles, identifiers, merges, conflicts, sources, events, consents, audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 21:22:03.434738
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import phygital.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "audit_log",
        sa.Column("at", phygital.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("detail", phygital.db.JSONType, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_at", ["at"], unique=False)

    op.create_table(
        "identity_conflicts",
        sa.Column("profile_id", sa.String(length=32), nullable=False),
        sa.Column("other_profile_ids", phygital.db.JSONType, nullable=False),
        sa.Column("identifiers", phygital.db.JSONType, nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("at", phygital.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_conflicts")),
    )
    with op.batch_alter_table("identity_conflicts", schema=None) as batch_op:
        batch_op.create_index("ix_identity_conflicts_profile_id", ["profile_id"], unique=False)

    op.create_table(
        "identity_merges",
        sa.Column("survivor_id", sa.String(length=32), nullable=False),
        sa.Column("merged_id", sa.String(length=32), nullable=False),
        sa.Column("cause", sa.String(length=20), nullable=False),
        sa.Column("detail", phygital.db.JSONType, nullable=False),
        sa.Column("at", phygital.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("undone_at", phygital.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=200), nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_merges")),
    )
    with op.batch_alter_table("identity_merges", schema=None) as batch_op:
        batch_op.create_index("ix_identity_merges_merged_id", ["merged_id"], unique=False)
        batch_op.create_index("ix_identity_merges_survivor_id", ["survivor_id"], unique=False)

    op.create_table(
        "profiles",
        sa.Column("canonical_id", sa.String(length=32), nullable=False),
        sa.Column("merged_into_id", sa.String(length=32), nullable=True),
        sa.Column("merged_at", phygital.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("traits", phygital.db.JSONType, nullable=False),
        sa.Column("trait_times", phygital.db.JSONType, nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("first_seen_at", phygital.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", phygital.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("channels", phygital.db.JSONType, nullable=False),
        sa.Column("events_count", sa.Integer(), nullable=False),
        sa.Column("orders_count", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", phygital.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", phygital.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profiles")),
    )
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.create_index("ix_profiles_canonical_id", ["canonical_id"], unique=False)

    op.create_table(
        "sources",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("write_key", sa.String(length=64), nullable=False),
        sa.Column("events_count", sa.BigInteger(), nullable=False),
        sa.Column("last_event_at", phygital.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", phygital.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", phygital.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", phygital.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.UniqueConstraint("write_key", name=op.f("uq_sources_write_key")),
    )
    op.create_table(
        "consents",
        sa.Column("profile_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("at", phygital.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("wording", sa.Text(), nullable=True),
        sa.Column("recorded_at", phygital.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_consents_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consents_profile_id_purpose_channel",
            ["profile_id", "purpose", "channel"],
            unique=False,
        )

    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source_id", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("profile_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=True),
        sa.Column("properties", phygital.db.JSONType, nullable=False),
        sa.Column("traits", phygital.db.JSONType, nullable=False),
        sa.Column("context", phygital.db.JSONType, nullable=False),
        sa.Column("event_at", phygital.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", phygital.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_events_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_events_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("source_id", "message_id", name=op.f("uq_events_source_id_message_id")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_profile_id_event_at", ["profile_id", "event_at"], unique=False
        )
        batch_op.create_index("ix_events_sku_event_at", ["sku", "event_at"], unique=False)

    op.create_table(
        "identifiers",
        sa.Column("profile_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("first_seen_at", phygital.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("origin", sa.String(length=100), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_identifiers_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identifiers")),
        sa.UniqueConstraint("key", name=op.f("uq_identifiers_key")),
    )
    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        batch_op.create_index("ix_identifiers_profile_id", ["profile_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        batch_op.drop_index("ix_identifiers_profile_id")

    op.drop_table("identifiers")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_sku_event_at")
        batch_op.drop_index("ix_events_profile_id_event_at")

    op.drop_table("events")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index("ix_consents_profile_id_purpose_channel")

    op.drop_table("consents")
    op.drop_table("sources")
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_index("ix_profiles_canonical_id")

    op.drop_table("profiles")
    with op.batch_alter_table("identity_merges", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_merges_survivor_id")
        batch_op.drop_index("ix_identity_merges_merged_id")

    op.drop_table("identity_merges")
    with op.batch_alter_table("identity_conflicts", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_conflicts_profile_id")

    op.drop_table("identity_conflicts")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_at")

    op.drop_table("audit_log")
