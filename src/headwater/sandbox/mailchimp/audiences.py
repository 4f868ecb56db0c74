"""One list (an "audience", in Mailchimp's words) and the list object the API shows for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from headwater.sandbox.mailchimp import dates, members


@dataclass
class Audience:
    """One list (an "audience") and its members, keyed by subscriber hash in joining order."""

    id: str
    name: str
    web_id: int
    date_created: int
    members: dict[str, members.Member] = field(default_factory=dict)
    forgotten: set[str] = field(default_factory=set)
    next_number: int = 0
    last_changed: int = 0

    def to_json(self) -> dict[str, Any]:
        """The list object of ``GET /3.0/lists/{list_id}``."""
        counts = {s: 0 for s in members.STATUSES}
        for member in self.members.values():
            counts[member.status] += 1
        return {
            "id": self.id,
            "web_id": self.web_id,
            "name": self.name,
            "contact": {
                "company": "Sandbox Inc.",
                "address1": "1 Sandbox Way",
                "city": "Atlanta",
                "state": "GA",
                "zip": "30308",
                "country": "US",
            },
            "permission_reminder": "You signed up on our website.",
            "use_archive_bar": True,
            "campaign_defaults": {
                "from_name": "Sandbox",
                "from_email": "sandbox@example.com",
                "subject": "",
                "language": "en",
            },
            "date_created": dates.iso(self.date_created),
            "list_rating": 0,
            "email_type_option": False,
            "subscribe_url_short": f"https://eepurl.com/{self.id[:6]}",
            "visibility": "pub",
            "double_optin": False,
            "marketing_permissions": False,
            "stats": {
                "member_count": counts["subscribed"],
                "unsubscribe_count": counts["unsubscribed"],
                "cleaned_count": counts["cleaned"],
                "total_contacts": sum(counts.values()) - counts["archived"],
                "last_sub_date": "",
                "last_unsub_date": "",
            },
            "_links": [{"rel": "self", "href": f"/3.0/lists/{self.id}", "method": "GET"}],
        }
