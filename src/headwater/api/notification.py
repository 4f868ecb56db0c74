"""The notification a receiver gets, described as an OpenAPI 3.1 ``webhooks`` entry: its body (the
Cloud Elements wire format) and the headers that identify and sign it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import FastAPI, Header
from pydantic import BaseModel, ConfigDict, Field

from headwater.api import examples

WEBHOOK_NAME = "eventNotification"


class NotifiedEvent(BaseModel):
    """One change, as ``message.events[]`` carries it."""

    model_config = ConfigDict(extra="allow")

    id: int = Field(description="The event's id in the events API.")
    objectType: str = Field(description="The resource, e.g. `contacts`.")
    objectId: str = Field(description="The record's id (`idField` of the poller).")
    eventType: Literal["CREATED", "UPDATED", "DELETED"]
    date: str = Field(description="When the record changed (ISO-8601).")
    pollDate: str = Field(description="When the poll that found it ran (ISO-8601).")
    elementKey: str
    hubKey: str


class NotificationMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    eventId: str = Field(
        description="`msg_<32 hex>`: identifies the notification, stable across retries."
    )
    instance_id: int
    instanceId: int
    elementKey: str
    events: list[NotifiedEvent] = Field(
        description="Up to 10 events (polling) or 20 (webhooks), in the order they were found."
    )
    raw: dict[str, Any] = Field(
        description="`{objectType, <objectType>: [the records of these events], instance_id}`."
    )


class Notification(BaseModel):
    """The body POSTed to `event.notification.callback.url`. Any 2xx answer is success; others
    are retried on the instance's schedule (a `Retry-After` is honoured, 410 ends the retries)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message": {
                        "eventId": "msg_0f6c7e0a3b8e4d2f9a1c5b7d3e9f1a2b",
                        "instance_id": 42,
                        "instanceId": 42,
                        "elementKey": examples.SHOWN.key,
                        "events": [
                            {
                                "id": 1001,
                                "objectType": "contacts",
                                "objectId": "l-0001:7",
                                "eventType": "UPDATED",
                                "date": "2026-11-29T10:15:00Z",
                                "pollDate": "2026-11-29T10:16:00Z",
                                "elementKey": examples.SHOWN.key,
                                "hubKey": "marketing",
                            }
                        ],
                        "raw": {
                            "objectType": "contacts",
                            "contacts": [{"_contact_id_": "l-0001:7", "First Name": "Ada"}],
                            "instance_id": 42,
                        },
                    }
                }
            ]
        }
    )

    message: NotificationMessage


def declare(app: FastAPI) -> None:
    """Add the notification to ``app``'s ``webhooks`` (documentation only; nothing is served)."""

    @app.webhooks.post(WEBHOOK_NAME, tags=["notifications"])
    def event_notification(  # pragma: no cover - never called, only described
        body: Notification,
        elements_webhook_id: Annotated[
            str, Header(alias="Elements-Webhook-Id", description="`message.eventId`.")
        ],
        elements_webhook_signature: Annotated[
            str,
            Header(
                alias="Elements-Webhook-Signature",
                description="`sha256=<base64 HMAC-SHA256 of the exact body>`, keyed by the "
                "UTF-8 bytes of `event.notification.signature.key` as written.",
            ),
        ],
        webhook_id: Annotated[
            str, Header(alias="webhook-id", description="Standard Webhooks: the message id.")
        ],
        webhook_timestamp: Annotated[
            str,
            Header(alias="webhook-timestamp", description="Standard Webhooks: Unix seconds."),
        ],
        webhook_signature: Annotated[
            str,
            Header(
                alias="webhook-signature",
                description="Standard Webhooks: `v1,<base64 HMAC-SHA256 of "
                "'<webhook-id>.<webhook-timestamp>.<body>'>`, keyed by the decoded bytes of a "
                "`whsec_` key (else its UTF-8 bytes).",
            ),
        ],
    ) -> None:
        """A notification of new events (also `kind` replay and test deliveries). Answer 2xx
        once it is stored; verify a signature before trusting the body."""
