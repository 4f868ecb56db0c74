"""The sandbox's audiences (lists) and their members, in memory, safe to use from any thread.

Reads and writes take the store's lock, so a page is computed from one state: a batch applied
meanwhile is seen whole or not at all. Writes stamp ``last_changed`` with the sandbox clock in
whole seconds (or the ``at`` given), and report each change to the listeners (the webhooks) once
the write has succeeded.

What a member listing keeps, and in which order, is in ``filters``.
"""

from __future__ import annotations

import copy
import hashlib
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from headwater.sandbox import clock
from headwater.sandbox.mailchimp import audiences, filters, members, problems

MERGE_FIELDS = ("FNAME", "LNAME", "ADDRESS", "PHONE", "BIRTHDAY", "COMPANY")
SOURCES = ("user", "admin", "api")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Change:
    """One change to one member, as a webhook reports it."""

    type: str  # subscribe, unsubscribe, profile, upemail, cleaned
    list_id: str
    member: members.Member
    source: str
    at: int
    extra: Mapping[str, str] = field(default_factory=dict)


class Store:
    """Every audience and member of the sandbox."""

    def __init__(self, clock_: clock.Clock, *, exclusive_since: bool = False) -> None:
        self.clock = clock_
        self.exclusive_since = exclusive_since
        self.lock = threading.RLock()
        self.listeners: list[Callable[[Change], None]] = []
        self._lists: dict[str, audiences.Audience] = {}
        self._pending: list[Change] | None = None
        self._web_ids = 100_000

    def now(self) -> int:
        return self.clock.now_ms() // 1000

    # --- lists ---------------------------------------------------------------------------------

    def create_list(self, name: str, *, at: int | None = None) -> audiences.Audience:
        """A new empty list; its id is 10 hex characters derived from its number."""
        with self.lock:
            number = len(self._lists) + 1
            list_id = hashlib.md5(f"list-{number}-{name}".encode()).hexdigest()[:10]
            created = at if at is not None else self.now()
            self._web_ids += 1
            audience = audiences.Audience(
                list_id, name, self._web_ids, created, last_changed=created
            )
            self._lists[list_id] = audience
            return audience

    def lists(self) -> list[audiences.Audience]:
        with self.lock:
            return list(self._lists.values())

    def get_list(self, list_id: str) -> audiences.Audience:
        with self.lock:
            found = self._lists.get(list_id)
            if found is None:
                raise problems.not_found()
            return found

    # --- reads ---------------------------------------------------------------------------------

    def query(self, list_id: str, query: filters.Query) -> list[members.Member]:
        """Every member of the list that ``query`` keeps, in the order it asks for."""
        with self.lock:
            found = list(self.get_list(list_id).members.values())
            return filters.apply(found, query, exclusive_since=self.exclusive_since)

    def get(self, list_id: str, key: str) -> members.Member:
        """A member by subscriber hash or email address (either case)."""
        with self.lock:
            audience = self.get_list(list_id)
            wanted = members.subscriber_hash(key) if "@" in key else key.lower()
            member = audience.members.get(wanted)
            if member is None:
                raise problems.not_found()
            return member

    # --- writes --------------------------------------------------------------------------------

    def add(
        self, list_id: str, body: Mapping[str, Any], *, source: str = "api", at: int | None = None
    ) -> members.Member:
        """``POST …/members``: a new member; an address already on the list is refused."""
        with self.lock:
            audience = self.get_list(list_id)
            email = _email(body.get("email_address"))
            status = _status(body.get("status"), "status")
            hashed = members.subscriber_hash(email)
            if hashed in audience.forgotten:
                raise problems.Problem(
                    400,
                    "Forgotten Email Not Subscribed",
                    f"{email} was permanently deleted and cannot be re-imported. "
                    "The contact must re-subscribe to get back on the list.",
                )
            if hashed in audience.members:
                raise problems.Problem(
                    400,
                    "Member Exists",
                    f"{email} is already a list member. Use PUT to insert or update list members.",
                )
            now = self.now() if at is None else at
            self._web_ids += 1
            member = members.Member(
                email=email,
                status="",
                number=audience.next_number,
                web_id=self._web_ids,
                last_changed=now,
                merge_fields=_merge_fields(body.get("merge_fields", {})),
            )
            _apply_plain(member, body)
            member.set_status(status, now)
            audience.next_number += 1
            audience.members[hashed] = member
            audience.last_changed = now
            if status == "subscribed":
                self._emit(Change("subscribe", list_id, member, source, now))
            return member

    def update(
        self,
        list_id: str,
        key: str,
        body: Mapping[str, Any],
        *,
        source: str = "api",
        at: int | None = None,
    ) -> members.Member:
        """``PATCH …/members/{hash}``: changes what ``body`` names; a status unarchives."""
        with self.lock:
            audience = self.get_list(list_id)
            member = self.get(list_id, key)
            now = self.now() if at is None else at
            before = copy.deepcopy(member)
            # Everything is checked before anything changes.
            merge = _merge_fields(body["merge_fields"]) if "merge_fields" in body else {}
            status = _status(body["status"], "status") if "status" in body else None
            new_email = _email(body["email_address"]) if "email_address" in body else member.email
            new_hash = members.subscriber_hash(new_email)
            if new_hash != member.id and new_hash in audience.members:
                raise problems.invalid("email_address", f"{new_email} is already a list member.")
            _apply_plain(copy.deepcopy(member), body)
            _apply_plain(member, body)
            member.merge_fields.update(merge)
            if new_hash != member.id:
                del audience.members[member.id]
                member.email = new_email
                audience.members[new_hash] = member
                audience.members = dict(
                    sorted(audience.members.items(), key=lambda item: item[1].number)
                )
                extra = {"old_email": before.email, "new_email": new_email}
                self._emit(Change("upemail", list_id, member, source, now, extra))
            if status is not None:
                member.set_status(status, now)
            member.last_changed = now
            audience.last_changed = now
            self._emit_status(list_id, before, member, source, now)
            return member

    def upsert(
        self, list_id: str, key: str, body: Mapping[str, Any], *, source: str = "api"
    ) -> members.Member:
        """``PUT …/members/{hash}``: updates the member (``status`` applies) or adds it with
        ``status_if_new``; an archived member given only ``status_if_new`` stays archived."""
        with self.lock:
            email = _email(body.get("email_address"))
            if members.subscriber_hash(email) != (
                members.subscriber_hash(key) if "@" in key else key.lower()
            ):
                raise problems.invalid(
                    "email_address", "The email address does not match the subscriber hash."
                )
            audience = self.get_list(list_id)
            if members.subscriber_hash(email) in audience.members:
                changes = {k: v for k, v in body.items() if k not in ("status_if_new",)}
                return self.update(list_id, key, changes, source=source)
            status = body.get("status", body.get("status_if_new"))
            if status is None:
                raise problems.invalid("status_if_new", "This value should not be blank.")
            return self.add(list_id, {**body, "status": status}, source=source)

    def archive(
        self, list_id: str, key: str, *, source: str = "api", at: int | None = None
    ) -> members.Member:
        """``DELETE …/members/{hash}``: the member stays, with status ``archived``."""
        with self.lock:
            member = self.get(list_id, key)
            if member.status == "archived":
                raise problems.not_found()
            now = self.now() if at is None else at
            was_subscribed = member.status == "subscribed"
            member.status = "archived"
            member.last_changed = now
            self.get_list(list_id).last_changed = now
            if was_subscribed:
                extra = {"action": "delete", "reason": "manual"}
                self._emit(Change("unsubscribe", list_id, member, source, now, extra))
            return member

    def delete_permanent(
        self, list_id: str, key: str, *, source: str = "api", at: int | None = None
    ) -> None:
        """``POST …/actions/delete-permanent``: gone, and the address may not be re-added."""
        with self.lock:
            audience = self.get_list(list_id)
            member = self.get(list_id, key)
            now = self.now() if at is None else at
            del audience.members[member.id]
            audience.forgotten.add(member.id)
            audience.last_changed = now
            if member.status == "subscribed":
                extra = {"action": "delete", "reason": "manual"}
                self._emit(Change("unsubscribe", list_id, member, source, now, extra))

    def touch(self, list_id: str, key: str, *, at: int | None = None) -> members.Member:
        """Moves ``last_changed`` without changing anything else."""
        with self.lock:
            member = self.get(list_id, key)
            member.last_changed = self.now() if at is None else at
            return member

    # --- atomic groups -------------------------------------------------------------------------

    def atomically(self, apply: Callable[[], list[str]]) -> list[str]:
        """Runs ``apply`` (which calls the write methods) all or nothing; listeners hear of the
        changes only when every write succeeded."""
        with self.lock:
            saved = copy.deepcopy(self._lists), self._web_ids
            outer = self._pending is not None
            if not outer:
                self._pending = []
            try:
                result = apply()
            except BaseException:
                self._lists, self._web_ids = saved
                if not outer:
                    self._pending = None
                raise
            if outer:
                return result
            pending, self._pending = self._pending or [], None
        for change in pending:
            self._notify(change)
        return result

    def _emit_status(
        self,
        list_id: str,
        before: members.Member,
        after: members.Member,
        source: str,
        at: int,
    ) -> None:
        if before.status != after.status:
            kind = {"subscribed": "subscribe", "unsubscribed": "unsubscribe", "cleaned": "cleaned"}
            if after.status in kind:
                extra = {"action": "unsub", "reason": "manual"}
                if after.status == "cleaned":
                    extra = {"reason": "hard"}
                elif after.status == "subscribed":
                    extra = {}
                self._emit(Change(kind[after.status], list_id, after, source, at, extra))
                return
        if before.merge_fields != after.merge_fields and after.status != "archived":
            self._emit(Change("profile", list_id, after, source, at))

    def _emit(self, change: Change) -> None:
        snapshot = Change(
            change.type,
            change.list_id,
            copy.deepcopy(change.member),
            change.source,
            change.at,
            change.extra,
        )
        if self._pending is not None:
            self._pending.append(snapshot)
        else:
            self._notify(snapshot)

    def _notify(self, change: Change) -> None:
        for listener in list(self.listeners):
            listener(change)


def _email(raw: object) -> str:
    if not isinstance(raw, str) or not _EMAIL.match(raw.strip()):
        raise problems.invalid("email_address", "Please provide a valid email address.")
    return raw.strip()


def _status(raw: object, field_name: str) -> str:
    if raw == "archived":
        raise problems.invalid(
            field_name, "Use DELETE to archive a member; 'archived' cannot be set."
        )
    if raw not in members.WRITABLE_STATUSES:
        allowed = ", ".join(members.WRITABLE_STATUSES)
        raise problems.invalid(field_name, f"The value must be one of: {allowed}.")
    return str(raw)


def _merge_fields(raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise problems.invalid("merge_fields", "Schema describes object, but another type found.")
    unknown = [k for k in raw if k not in MERGE_FIELDS]
    if unknown:
        raise problems.Problem(
            400,
            "Invalid Resource",
            "Your merge fields were invalid.",
            [{"field": k, "message": "This merge field does not exist."} for k in unknown],
        )
    return dict(raw)


def _apply_plain(member: members.Member, body: Mapping[str, Any]) -> None:
    if "email_type" in body:
        if body["email_type"] not in ("html", "text"):
            raise problems.invalid("email_type", "The value must be one of: html, text.")
        member.email_type = body["email_type"]
    if "vip" in body:
        if not isinstance(body["vip"], bool):
            raise problems.invalid("vip", "Schema describes boolean, but another type found.")
        member.vip = body["vip"]
    if "language" in body:
        member.language = str(body["language"])
    for key in ("ip_signup", "ip_opt"):
        if key in body:
            setattr(member, key, str(body[key]))
