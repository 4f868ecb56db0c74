"""The sandbox's contact lists, in memory: queries and writes, safe to use from any thread.

Contacts are numbered per list from 0 in insertion order; their id is ``"{listid}:{n}"``. Every
write stamps the contact's modified time and the list's ``tsLastModified`` with the sandbox clock;
deletes leave a tombstone (id and time) that the admin state shows, for test oracles.

Date filters: Act-On does not document whether ``modafter`` and friends include their bound. The
sandbox treats all four as strict (``modafter=T`` means modified > T, ``modbefore=T`` means < T)
unless the store is built with ``inclusive_bounds=True``; a client that overlaps its windows works
either way. ``totalCount`` counts the rows that match the filters, and rows come in contact number
order, so offset paging is stable while the data does not change.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from headwater.sandbox import acton_errors, clock

CONTACT_ID = "_contact_id_"
EMAIL = "E-mail Address"
HEADINGS = (
    "First Name",
    "Last Name",
    "Job Title",
    "Company",
    "Business City",
    EMAIL,
    "Lead Source",
    "Timezone",
)


@dataclass
class Contact:
    """One row of a list."""

    number: int
    values: dict[str, str]
    created_ms: int
    modified_ms: int


@dataclass
class ContactList:
    """A contact list with its own column headings."""

    id: str
    name: str
    headings: list[str]
    created_ms: int
    ts_last_modified: int
    folder_name: str = "Default Folder"
    contacts: dict[int, Contact] = field(default_factory=dict)
    next_number: int = 0

    def contact_id(self, number: int) -> str:
        return f"{self.id}:{number}"

    def row(self, contact: Contact, headings: Sequence[str]) -> list[str]:
        return [self.contact_id(contact.number), *(contact.values.get(h, "") for h in headings)]

    def summary(self) -> dict[str, object]:
        """The list as ``GET /api/1/list`` shows it."""
        return {
            "id": self.id,
            "name": self.name,
            "folderName": self.folder_name,
            "sourceId": self.id,
            "baseId": self.id,
            "description": "Uploaded Marketing List",
            "sourceSize": str(len(self.contacts)),
            "sourceName": self.name,
            "tsLastModified": self.ts_last_modified,
            "tsLastCounted": self.ts_last_modified,
            "tsSource": self.created_ms,
            "bIsSingleton": False,
            "bIsList": True,
        }


@dataclass(frozen=True)
class Window:
    """The date filters of a list download, epoch milliseconds (None: no bound)."""

    modafter: int | None = None
    modbefore: int | None = None
    createdafter: int | None = None
    createdbefore: int | None = None


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _parse_number(list_id: str, rid: str) -> int:
    """The contact number in ``rid`` (``"l-0001:7"`` or ``"7"``) of list ``list_id``."""
    prefix, sep, number = rid.rpartition(":")
    if (sep and prefix != list_id) or not number.isdigit():
        raise acton_errors.invalid_contact()
    return int(number)


class Store:
    """Every list and contact of the sandbox; all methods take the store's lock."""

    def __init__(self, clock_: clock.Clock, *, inclusive_bounds: bool = False) -> None:
        self.clock = clock_
        self.inclusive_bounds = inclusive_bounds
        self.lock = threading.RLock()
        self._lists: dict[str, ContactList] = {}
        self.tombstones: list[tuple[str, int]] = []
        # called as (kind "added" | "updated", list, contact) after each insert or update
        self.listeners: list[Callable[[str, ContactList, Contact], None]] = []

    # --- lists -----------------------------------------------------------------------------

    def create_list(
        self, name: str, headings: Sequence[str] = HEADINGS, *, at_ms: int | None = None
    ) -> ContactList:
        """A new empty list with the next id (``l-0001``, ``l-0002``, …)."""
        with self.lock:
            now = self.clock.now_ms() if at_ms is None else at_ms
            list_id = f"l-{len(self._lists) + 1:04d}"
            while list_id in self._lists:
                list_id = f"l-{int(list_id[2:]) + 1:04d}"
            created = ContactList(list_id, name, list(headings), now, now)
            self._lists[list_id] = created
            return created

    def lists(self) -> list[ContactList]:
        with self.lock:
            return [self._lists[k] for k in sorted(self._lists)]

    def get_list(self, list_id: str) -> ContactList:
        with self.lock:
            found = self._lists.get(list_id)
            if found is None:
                raise acton_errors.invalid_list()
            return found

    # --- reads -----------------------------------------------------------------------------

    def download(
        self, list_id: str, window: Window, *, offset: int, count: int
    ) -> tuple[ContactList, int, list[Contact]]:
        """The list, how many contacts match ``window``, and the page ``[offset, offset+count)``."""
        with self.lock:
            found = self.get_list(list_id)
            matching = [c for c in found.contacts.values() if self._matches(c, window)]
            return found, len(matching), matching[offset : offset + count]

    def _matches(self, contact: Contact, window: Window) -> bool:
        inclusive = self.inclusive_bounds

        def after(value: int, bound: int | None) -> bool:
            return bound is None or value > bound or (inclusive and value == bound)

        def before(value: int, bound: int | None) -> bool:
            return bound is None or value < bound or (inclusive and value == bound)

        return (
            after(contact.modified_ms, window.modafter)
            and before(contact.modified_ms, window.modbefore)
            and after(contact.created_ms, window.createdafter)
            and before(contact.created_ms, window.createdbefore)
        )

    def get(self, list_id: str, rid: str) -> tuple[ContactList, Contact]:
        with self.lock:
            found = self.get_list(list_id)
            contact = found.contacts.get(_parse_number(list_id, rid))
            if contact is None:
                raise acton_errors.invalid_contact()
            return found, contact

    def find_contact(self, contact_id: str) -> tuple[ContactList, Contact]:
        """A contact by its full id ``"{listid}:{n}"``."""
        list_id, _, _ = contact_id.rpartition(":")
        return self.get(list_id, contact_id)

    # --- writes ----------------------------------------------------------------------------

    def _checked(self, target: ContactList, values: Mapping[str, object]) -> dict[str, str]:
        unknown = [k for k in values if k != CONTACT_ID and k not in target.headings]
        if unknown:
            raise acton_errors.invalid_column()
        return {k: _cell(v) for k, v in values.items() if k != CONTACT_ID}

    def add(
        self, target: ContactList, values: dict[str, str], created: int, modified: int
    ) -> Contact:
        """Adds a contact with these times to ``target``, its ``values`` taken as they are."""
        with self.lock:
            contact = Contact(target.next_number, values, created, modified)
            target.contacts[contact.number] = contact
            target.next_number += 1
            target.ts_last_modified = max(target.ts_last_modified, modified)
            return contact

    def insert(
        self, list_id: str, values: Mapping[str, object], *, at_ms: int | None = None
    ) -> str:
        """Adds a contact (no dedupe); returns its id."""
        with self.lock:
            target = self.get_list(list_id)
            now = self.clock.now_ms() if at_ms is None else at_ms
            contact = self.add(target, self._checked(target, values), now, now)
            self._tell("added", target, contact)
            return target.contact_id(contact.number)

    def update(
        self, list_id: str, rid: str, values: Mapping[str, object], *, at_ms: int | None = None
    ) -> str:
        """Changes the given columns of one contact (an empty change still stamps it)."""
        with self.lock:
            target, contact = self.get(list_id, rid)
            checked = self._checked(target, values)
            now = self.clock.now_ms() if at_ms is None else at_ms
            contact.values.update(checked)
            contact.modified_ms = now
            target.ts_last_modified = now
            self._tell("updated", target, contact)
            return target.contact_id(contact.number)

    def _tell(self, kind: str, target: ContactList, contact: Contact) -> None:
        for listener in self.listeners:
            listener(kind, target, contact)

    def upsert(self, list_id: str, email: str, values: Mapping[str, object]) -> tuple[str, bool]:
        """Updates the first contact whose email matches (case-insensitively), else inserts one.

        Returns the contact id and whether it was inserted.
        """
        with self.lock:
            target = self.get_list(list_id)
            wanted = email.strip().lower()
            for contact in target.contacts.values():
                if contact.values.get(EMAIL, "").strip().lower() == wanted:
                    return self.update(list_id, str(contact.number), values), False
            checked = self._checked(target, values)
            if EMAIL in target.headings:
                checked.setdefault(EMAIL, email)
            return self.insert(list_id, checked), True

    def delete(self, list_id: str, rid: str, *, at_ms: int | None = None) -> str:
        with self.lock:
            target, contact = self.get(list_id, rid)
            now = self.clock.now_ms() if at_ms is None else at_ms
            del target.contacts[contact.number]
            target.ts_last_modified = now
            contact_id = target.contact_id(contact.number)
            self.tombstones.append((contact_id, now))
            return contact_id

    def delete_many(self, list_id: str, rids: Iterable[str]) -> tuple[int, list[str]]:
        """Deletes what it can; returns how many were deleted and the ids that were not."""
        with self.lock:
            self.get_list(list_id)
            failed: list[str] = []
            deleted = 0
            for rid in rids:
                try:
                    self.delete(list_id, rid)
                    deleted += 1
                except acton_errors.ActonError:
                    failed.append(rid)
            return deleted, failed

    # --- oracle ------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, object]:
        """Every list and contact with its times, and the tombstones, as plain JSON values."""
        with self.lock:
            return {
                "lists": [
                    {
                        **found.summary(),
                        "headings": [CONTACT_ID, *found.headings],
                        "contacts": [
                            {
                                "id": found.contact_id(c.number),
                                "values": dict(c.values),
                                "createdMs": c.created_ms,
                                "modifiedMs": c.modified_ms,
                            }
                            for c in found.contacts.values()
                        ],
                    }
                    for found in self.lists()
                ],
                "deleted": [{"id": cid, "deletedMs": at} for cid, at in self.tombstones],
            }
