"""One audience member as Mailchimp shows it, and the rules its status follows.

``id`` (the subscriber hash) is the MD5 of the lower-cased email address; ``unique_email_id`` is
ten hex characters, fixed per address. ``timestamp_opt`` is stamped when the member becomes
``subscribed`` (and stays ``""`` for one that never opted in); ``timestamp_signup`` only when it
entered as ``pending`` (a signup awaiting confirmation). ``last_changed`` moves on every change,
archiving included.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from headwater.sandbox.mailchimp import dates

STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived")
WRITABLE_STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
SORT_FIELDS = ("timestamp_opt", "timestamp_signup", "last_changed")


def subscriber_hash(email: str) -> str:
    """The member id Mailchimp derives from an address."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


def unique_email_id(email: str) -> str:
    return hashlib.sha1(b"unique:" + email.strip().lower().encode()).hexdigest()[:10]


@dataclass
class Member:
    """One member of one list; times are epoch seconds (None: never)."""

    email: str
    status: str
    number: int
    web_id: int
    last_changed: int
    merge_fields: dict[str, Any] = field(default_factory=dict)
    email_type: str = "html"
    vip: bool = False
    language: str = ""
    timestamp_signup: int | None = None
    timestamp_opt: int | None = None
    ip_signup: str = ""
    ip_opt: str = ""
    source: str = "API - Generic"
    unsubscribe_reason: str = ""

    @property
    def id(self) -> str:
        return subscriber_hash(self.email)

    def set_status(self, status: str, at: int) -> None:
        """Moves to ``status`` at ``at``, stamping the opt-in or signup time on the way."""
        if status == "subscribed" and self.status != "subscribed":
            self.timestamp_opt = at
        if status == "pending" and self.timestamp_signup is None:
            self.timestamp_signup = at
        if status == "unsubscribed" and self.status != "unsubscribed":
            self.unsubscribe_reason = "N/A (Unsubscribed by an admin)"
        self.status = status

    def to_json(self, list_id: str) -> dict[str, Any]:
        """The member object of ``GET /3.0/lists/{list_id}/members/{subscriber_hash}``."""
        first = str(self.merge_fields.get("FNAME", "") or "")
        last = str(self.merge_fields.get("LNAME", "") or "")
        base = f"/3.0/lists/{list_id}/members/{self.id}"
        answer: dict[str, Any] = {
            "id": self.id,
            "email_address": self.email,
            "unique_email_id": unique_email_id(self.email),
            "contact_id": hashlib.md5(f"{list_id}:{self.id}".encode()).hexdigest(),
            "full_name": f"{first} {last}".strip(),
            "web_id": self.web_id,
            "email_type": self.email_type,
            "status": self.status,
            "consents_to_one_to_one_messaging": True,
            "merge_fields": dict(self.merge_fields),
            "interests": {},
            "stats": {"avg_open_rate": 0, "avg_click_rate": 0},
            "ip_signup": self.ip_signup,
            "timestamp_signup": dates.iso(self.timestamp_signup),
            "ip_opt": self.ip_opt,
            "timestamp_opt": dates.iso(self.timestamp_opt),
            "member_rating": 2,
            "last_changed": dates.iso(self.last_changed),
            "language": self.language,
            "vip": self.vip,
            "email_client": "",
            "location": {
                "latitude": 0,
                "longitude": 0,
                "gmtoff": 0,
                "dstoff": 0,
                "country_code": "",
                "timezone": "",
                "region": "",
            },
            "source": self.source,
            "tags_count": 0,
            "tags": [],
            "list_id": list_id,
            "_links": [
                {"rel": "self", "href": base, "method": "GET"},
                {"rel": "parent", "href": f"/3.0/lists/{list_id}/members", "method": "GET"},
                {"rel": "update", "href": base, "method": "PATCH"},
                {"rel": "upsert", "href": base, "method": "PUT"},
                {"rel": "delete", "href": base, "method": "DELETE"},
            ],
        }
        if self.status == "unsubscribed":
            answer["unsubscribe_reason"] = self.unsubscribe_reason
        return answer
