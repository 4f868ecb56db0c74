"""What ``GET /3.0/lists/{list_id}/members`` keeps, and in which order.

- ``since_last_changed=T`` keeps members with ``last_changed >= T`` (inclusive) and
  ``before_last_changed=T`` those with ``last_changed < T``. Mailchimp does not document either
  bound; since its dates have one-second precision and many changes share a second, an inclusive
  lower bound is the reading under which a client that asks "since the second I last saw" misses
  nothing, and the half-open window makes consecutive windows neither overlap nor leave gaps. Build
  the store with ``exclusive_since=True`` to check a client against the stricter reading.
- Without ``status``, archived members are left out (and out of ``total_items``), as in
  Mailchimp's audience view; ``status=archived`` lists them. ``GET`` of one archived member
  answers it with ``"status": "archived"``, never 404.
- Members come in the order they joined, unless ``sort_field`` (``timestamp_opt``,
  ``timestamp_signup``, ``last_changed``) and ``sort_dir`` (``ASC``, ``DESC``) say otherwise; the
  sort is stable, so offset paging is stable while the data does not change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from headwater.sandbox.mailchimp import members


@dataclass(frozen=True)
class Query:
    """The filters and order of a member listing (times in epoch seconds)."""

    status: str | None = None
    since_last_changed: int | None = None
    before_last_changed: int | None = None
    since_timestamp_opt: int | None = None
    before_timestamp_opt: int | None = None
    unique_email_id: str | None = None
    email_type: str | None = None
    vip_only: bool = False
    sort_field: str | None = None
    sort_dir: str = "ASC"


def apply(
    found: Iterable[members.Member], query: Query, *, exclusive_since: bool = False
) -> list[members.Member]:
    """The members ``query`` keeps, in its order (joining order unless it names a sort)."""
    kept = [m for m in found if _matches(m, query, exclusive_since)]
    if query.sort_field is not None:
        key = query.sort_field

        def value(member: members.Member) -> int:
            stamp: int | None = getattr(member, key)
            return -1 if stamp is None else stamp

        kept.sort(key=value, reverse=query.sort_dir == "DESC")
    return kept


def _matches(member: members.Member, query: Query, exclusive_since: bool) -> bool:
    if query.status is None and member.status == "archived":
        return False
    if query.status is not None and member.status != query.status:
        return False
    changed = member.last_changed
    since = query.since_last_changed
    if since is not None and (changed < since or (exclusive_since and changed == since)):
        return False
    if query.before_last_changed is not None and changed >= query.before_last_changed:
        return False
    opt = member.timestamp_opt
    if query.since_timestamp_opt is not None and (opt is None or opt < query.since_timestamp_opt):
        return False
    if query.before_timestamp_opt is not None and (
        opt is None or opt >= query.before_timestamp_opt
    ):
        return False
    if query.unique_email_id and members.unique_email_id(member.email) != query.unique_email_id:
        return False
    if query.email_type and member.email_type != query.email_type:
        return False
    return not (query.vip_only and not member.vip)
