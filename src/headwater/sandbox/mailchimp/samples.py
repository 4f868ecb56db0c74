"""The sandbox's sample audiences: deterministic members, all changed in the past."""

from __future__ import annotations

import random

from headwater.sandbox.mailchimp import store

_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Linus")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
_COMPANIES = ("Initech", "Globex", "Umbrella", "Hooli", "Acme")
_NAMES = ("Newsletter", "Customers", "Webinar Leads", "Trial Users", "Partners")
_STATUSES = ("subscribed",) * 7 + ("unsubscribed", "pending", "cleaned")
_DAY = 86_400


def seed(target: store.Store, *, lists: int, members_per_list: int, seed: int) -> None:
    """Adds ``lists`` audiences of ``members_per_list`` members, the same for a seed and clock.

    Each audience is created 30 days before now; its members join spread over the 29 days after
    and last change within a day of joining (never after now).
    """
    rng = random.Random(seed)
    with target.lock:
        now = target.now()
        for i in range(lists):
            start = now - 30 * _DAY
            audience = target.create_list(f"{_NAMES[i % len(_NAMES)]} {i + 1}", at=start)
            step = (29 * _DAY) // max(members_per_list, 1)
            for n in range(members_per_list):
                joined = start + n * step + rng.randrange(max(step, 1))
                first, last = rng.choice(_FIRST), rng.choice(_LAST)
                email = f"{first}.{last}.{i + 1}.{n}@example.com".lower()
                member = target.add(
                    audience.id,
                    {
                        "email_address": email,
                        "status": rng.choice(_STATUSES),
                        "merge_fields": {
                            "FNAME": first,
                            "LNAME": last,
                            "COMPANY": rng.choice(_COMPANIES),
                        },
                    },
                    source="admin",
                    at=joined,
                )
                member.last_changed = joined + rng.randrange(min(_DAY, now - joined) + 1)
