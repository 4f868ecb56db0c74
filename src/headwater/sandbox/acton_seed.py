"""The sandbox's sample contacts: deterministic lists of plausible people, all in the past."""

from __future__ import annotations

import random

from headwater.sandbox import acton_data

_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Linus")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
_TITLES = ("Engineer", "Manager", "Director", "Analyst", "Founder")
_COMPANIES = ("Initech", "Globex", "Umbrella", "Hooli", "Acme")
_CITIES = ("Portland", "Lyon", "Osaka", "Recife", "Tartu")
_SOURCES = ("Organic Search", "Webinar", "Referral", "Trade Show")
_ZONES = ("America/Los_Angeles", "Europe/Paris", "Asia/Tokyo", "America/Recife")
_LIST_NAMES = ("Newsletter", "Webinar Leads", "Customers", "Trial Users", "Partners")
_DAY_MS = 86_400_000


def seed(store: acton_data.Store, *, lists: int, contacts: int, seed: int) -> None:
    """Adds ``lists`` lists of ``contacts`` contacts, the same for a given seed and clock.

    Each list is created 30 days before the clock's now; its contacts are born spread over the
    29 days after and modified within a day of their birth (never after now).
    """
    rng = random.Random(seed)
    with store.lock:
        now = store.clock.now_ms()
        for i in range(lists):
            start = now - 30 * _DAY_MS
            name = f"{_LIST_NAMES[i % len(_LIST_NAMES)]} {i + 1}"
            created = store.create_list(name, at_ms=start)
            step = (29 * _DAY_MS) // max(contacts, 1)
            for n in range(contacts):
                born = start + n * step + rng.randrange(max(step, 1))
                first, last = rng.choice(_FIRST), rng.choice(_LAST)
                values = {
                    "First Name": first,
                    "Last Name": last,
                    "Job Title": rng.choice(_TITLES),
                    "Company": rng.choice(_COMPANIES),
                    "Business City": rng.choice(_CITIES),
                    acton_data.EMAIL: f"{first}.{last}.{i + 1}.{n}@example.com".lower(),
                    "Lead Source": rng.choice(_SOURCES),
                    "Timezone": rng.choice(_ZONES),
                }
                changed = born + rng.randrange(min(_DAY_MS, now - born) + 1)
                store.add(created, values, born, changed)
