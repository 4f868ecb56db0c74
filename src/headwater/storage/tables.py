"""The schema's one source of truth. Alembic migrations must match it exactly.

Times are stored as timezone-aware UTC datetimes. Provider dates the poller compares are kept as
epoch milliseconds (``BigInteger``) so that both databases order them identically.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on both databases (SQLite keeps no zone of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


Time = UtcDateTime()
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

server_meta = sa.Table(
    "server_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Time, nullable=False),
    # the secret before the last rotation, accepted until ``previous_secret_until``
    sa.Column("previous_secret_hash", sa.String(64), nullable=True, index=True),
    sa.Column("previous_secret_until", Time, nullable=True),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "organization_id",
        sa.Integer,
        sa.ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Time, nullable=False),
    # the secret before the last rotation, accepted until ``previous_secret_until``
    sa.Column("previous_secret_hash", sa.String(64), nullable=True, index=True),
    sa.Column("previous_secret_until", Time, nullable=True),
)

instances = sa.Table(
    "instances",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "organization_id",
        sa.Integer,
        sa.ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("element_key", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("tags", Json, nullable=False),
    # sha256 hex of the instance token; the token itself is shown once at creation
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    # the token before the last rotation, accepted until ``previous_token_until``
    sa.Column("previous_token_hash", sa.String(64), nullable=True, index=True),
    sa.Column("previous_token_until", Time, nullable=True),
    # configuration without its secret keys, as validated and normalized
    sa.Column("configuration", Json, nullable=False),
    # Fernet token of a JSON object: secret configuration values
    sa.Column("secrets", sa.Text, nullable=False),
    # Fernet token of a JSON object: access_token, refresh_token (provider tokens)
    sa.Column("provider_tokens", sa.Text, nullable=True),
    sa.Column("token_expires_at", Time, nullable=True),
    # a token refresh in progress holds this lease (single-use refresh tokens)
    sa.Column("refresh_lease_owner", sa.String(64), nullable=True),
    sa.Column("refresh_lease_until", Time, nullable=True),
    sa.Column("valid", sa.Boolean, nullable=False),
    sa.Column("invalid_reason", sa.Text, nullable=True),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("events_enabled", sa.Boolean, nullable=False),
    # false once delivery retries ran out (or a 410): later notifications are queued
    sa.Column("subscription_active", sa.Boolean, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    # a signature-key rotation: the previous key (Fernet token), which still signs until
    # signature_overlap_until, and when the current key took over
    sa.Column("previous_signature_key", sa.Text, nullable=True),
    sa.Column("signature_overlap_until", Time, nullable=True),
    sa.Column("signature_rotated_at", Time, nullable=True),
)

pollers = sa.Table(
    "pollers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "instance_id",
        sa.Integer,
        sa.ForeignKey("instances.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("resource", sa.String(200), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("disabled_reason", sa.Text, nullable=True),
    # fingerprint of the resource's query; a change restarts the cursor
    sa.Column("query_fingerprint", sa.String(64), nullable=False),
    sa.Column("cursor_ms", sa.BigInteger, nullable=True),
    # the poller's start (provider epoch ms): no poll reads before it, and a record created
    # before it is never CREATED; None on pollers that started before it was kept
    sa.Column("start_ms", sa.BigInteger, nullable=True),
    sa.Column("next_run_at", Time, nullable=True),
    sa.Column("last_run_at", Time, nullable=True),
    sa.Column("next_reconcile_at", Time, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("consecutive_failures", sa.Integer, nullable=False),
    sa.Column("last_event_count", sa.Integer, nullable=True),
    sa.Column("run_requested", sa.Boolean, nullable=False),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", Time, nullable=True),
    sa.UniqueConstraint("instance_id", "resource"),
    sa.Index("ix_pollers_due", "next_run_at"),
    # the few pollers being run: a claim looks up each candidate's busy siblings here
    sa.Index(
        "ix_pollers_leased",
        "instance_id",
        postgresql_where=sa.text("lease_until IS NOT NULL"),
        sqlite_where=sa.text("lease_until IS NOT NULL"),
    ),
)

record_versions = sa.Table(
    "record_versions",
    metadata,
    sa.Column(
        "poller_id",
        sa.Integer,
        sa.ForeignKey("pollers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("object_id", sa.String(300), primary_key=True),
    sa.Column("updated_ms", sa.BigInteger, nullable=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
)

rate_limits = sa.Table(
    "rate_limits",
    metadata,
    # an instance's provider account: when its next call may go, shared by every process
    sa.Column(
        "instance_id",
        sa.Integer,
        sa.ForeignKey("instances.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("next_ms", sa.BigInteger, nullable=False),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # the notification's message.eventId: msg_<32 hex>, stable across retries
    sa.Column("notification_id", sa.String(64), nullable=False, unique=True),
    sa.Column(
        "instance_id",
        sa.Integer,
        sa.ForeignKey("instances.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("kind", sa.String(16), nullable=False),  # events | replay | test | operations
    sa.Column("url", sa.Text, nullable=False),
    # the exact bytes sent (UTF-8 JSON); signatures are computed over them at send time
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # created|retry|delivered|queued|failed
    sa.Column("attempt_count", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", Time, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", Time, nullable=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    # the W3C traceparent of the poll that found its events (when traces are on)
    sa.Column("traceparent", sa.String(64), nullable=True),
    sa.Index("ix_deliveries_instance_order", "instance_id", "status", "id"),
    sa.Index("ix_deliveries_due", "status", "next_attempt_at"),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "delivery_id",
        sa.Integer,
        sa.ForeignKey("deliveries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("date", Time, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("response", sa.Text, nullable=True),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "instance_id",
        sa.Integer,
        sa.ForeignKey("instances.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("element_key", sa.String(64), nullable=False),
    sa.Column("hub_key", sa.String(64), nullable=False),
    sa.Column("object_type", sa.String(200), nullable=False),
    sa.Column("object_id", sa.String(300), nullable=False),
    sa.Column("event_type", sa.String(16), nullable=False),  # CREATED | UPDATED | DELETED
    sa.Column("date", Time, nullable=False),
    sa.Column("poll_date", Time, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # NEW|DISPATCHED|NOTIFIED|FAILED
    sa.Column(
        "delivery_id",
        sa.Integer,
        sa.ForeignKey("deliveries.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
    ),
    sa.Column("raw", Json, nullable=False),
    sa.Index("ix_events_instance_date", "instance_id", "id"),
)

operations_endpoints = sa.Table(
    "operations_endpoints",
    metadata,
    # where an organization's operations notifications go, and the key that signs them
    sa.Column(
        "organization_id",
        sa.Integer,
        sa.ForeignKey("organizations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("url", sa.Text, nullable=False),
    # Fernet token of the signature key
    sa.Column("signature_key", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
)

alerts = sa.Table(
    "alerts",
    metadata,
    # one condition of one instance (a poller disabled, the instance invalid, its subscription
    # deactivated, its backlog too old): firing or not, flipped by one conditional statement
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "instance_id",
        sa.Integer,
        sa.ForeignKey("instances.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "subject", sa.String(64), nullable=False
    ),  # poller:<id>|instance|subscription|backlog
    sa.Column("firing", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("since", Time, nullable=False),
    sa.UniqueConstraint("instance_id", "subject"),
    sa.Index("ix_alerts_firing", "firing"),
)

inbound_webhooks = sa.Table(
    "inbound_webhooks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("received_at", Time, nullable=False),
    sa.Column("element_key", sa.String(64), nullable=False),
    # None while it matches no instance (unrouted)
    sa.Column(
        "instance_id",
        sa.Integer,
        sa.ForeignKey("instances.id", ondelete="CASCADE"),
        nullable=True,
    ),
    # the provider's message id (svix-id): a replay of an accepted one stores no second event
    sa.Column("message_id", sa.String(200), nullable=True),
    # accepted | duplicate | unrouted | refused | ignored
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("problem", sa.Text, nullable=True),
    sa.Column("event_count", sa.Integer, nullable=False),
    sa.Column("content_type", sa.String(200), nullable=False),
    sa.Column("headers", Json, nullable=False),
    # the exact bytes received
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Index("ix_inbound_webhooks_message", "instance_id", "message_id"),
    sa.Index("ix_inbound_webhooks_outcome", "outcome", "id"),
    sa.Index("ix_inbound_webhooks_received", "received_at"),
)
