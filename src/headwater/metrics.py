"""Prometheus metrics of this process, on the default registry (``GET /metrics`` serves them)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

POLLS = Counter(
    "headwater_polls_total",
    "Polls by outcome: ok, shifted (pages moved; cursor kept), rate_limited, unavailable, "
    "refused, record_error, failed, lease_lost.",
    ["outcome"],
)
POLL_DURATION = Histogram(
    "headwater_poll_duration_seconds", "Time from a poll's start to its commit.", buckets=_SECONDS
)
POLL_LAG = Histogram(
    "headwater_poll_lag_seconds",
    "How late a poll started: its start minus the time it was due.",
    buckets=_SECONDS,
)
EVENTS_FOUND = Counter(
    "headwater_events_found_total", "Events stored by the pollers, by type.", ["event_type"]
)
RECONCILIATIONS = Counter(
    "headwater_reconciliations_total",
    "Delete reconciliations by outcome: ok, refused (listing shifted or looks truncated), failed.",
    ["outcome"],
)

# -- deliveries --------------------------------------------------------------------------------
NOTIFICATIONS = Counter(
    "headwater_notifications_total",
    "Notification attempts by outcome: delivered, retry (another attempt scheduled), queued "
    "(retries ran out or 410: subscription deactivated), lost (lease taken over meanwhile), "
    "unrecorded (the outcome could not be stored; the lease runs out and it is tried again), "
    "failed (an operations notification whose retries ran out).",
    ["outcome"],
)
DELIVERY_ATTEMPT_SECONDS = Histogram(
    "headwater_delivery_attempt_seconds",
    "Latency of notification attempts (request sent to answer, or to the error).",
    buckets=_SECONDS,
)
DELIVERY_QUEUE_DEPTH = Gauge(
    "headwater_delivery_queue_depth",
    "Undelivered notifications by status: created, retry, queued.",
    ["status"],
)
DELIVERY_OLDEST_UNDELIVERED_SECONDS = Gauge(
    "headwater_delivery_oldest_undelivered_seconds",
    "Age of the oldest notification not yet delivered (0 when none).",
)

# -- operations alerts ---------------------------------------------------------------------------
ALERTS = Counter(
    "headwater_alerts_total",
    "Alert transitions this process decided, by type: poller.disabled, poller.recovered, "
    "instance.invalid, instance.valid, subscription.deactivated, subscription.reactivated, "
    "backlog.exceeded, backlog.cleared.",
    ["type"],
)
ALERTS_FIRING = Gauge(
    "headwater_alerts_firing",
    "Alerts firing now, by condition: poller, instance, subscription, backlog.",
    ["condition"],
)

# -- storage -----------------------------------------------------------------------------------
TRANSACTION_RETRIES = Counter(
    "headwater_transaction_retries_total",
    "Transactions PostgreSQL aborted and that ran again, by reason: deadlock, serialization.",
    ["reason"],
)

# -- the HTTP edge ---------------------------------------------------------------------------------
AUTH_FAILURES = Counter(
    "headwater_auth_failures_total",
    "Failed authentications (401) on authenticated routes.",
)
AUTH_REFUSALS = Counter(
    "headwater_auth_refusals_total",
    "Requests refused with 429 because their client address failed to authenticate too often "
    "(counted per process).",
)
