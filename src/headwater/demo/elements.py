"""What ``make demo`` does differently for each element it can show (``ELEMENT=acton`` or
``ELEMENT=mailchimp``): the sandbox it starts, the setting that points Headwater at it, the
poller configuration of the instance, and the changes made in the sandbox. The rest of the demo
(:mod:`headwater.demo.run`) is the same for every element."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

Call = Callable[[str, str, Any], Awaitable[Any]]
"""``call(method, url, body)``: one request of the demo, answering the decoded JSON."""


@dataclasses.dataclass(frozen=True)
class Changed:
    """What the demo changed in the sandbox: the ids expected at the receiver, and a line."""

    ids: set[str]
    summary: str


@dataclasses.dataclass(frozen=True)
class Script:
    """One element's part of the demo."""

    key: str
    name: str
    sandbox_args: tuple[str, ...]
    setting: str  # the HEADWATER_* variable that points the element at the sandbox
    instance_name: str
    change: Callable[[Call, str], Awaitable[Changed]]
    poller_configuration: dict[str, Any] | None = None  # None: the element's default


async def _acton_changes(call: Call, sandbox: str) -> Changed:
    state = await call("GET", sandbox + "/_admin/state", None)
    first, second = state["lists"][0], state["lists"][1]
    updated = [first["contacts"][0]["id"], second["contacts"][1]["id"]]
    deleted = first["contacts"][2]["id"]
    for n, contact_id in enumerate(updated):
        change = {"values": {"Job Title": f"Head of Demos {n + 1}"}}
        await call("PATCH", f"{sandbox}/_admin/contacts/{contact_id}", change)
    new = {
        "values": {
            "First Name": "Ada",
            "Last Name": "Lovelace",
            "E-mail Address": "ada@example.com",
        }
    }
    created = await call("POST", f"{sandbox}/_admin/lists/{first['id']}/contacts", new)
    await call("DELETE", f"{sandbox}/_admin/contacts/{deleted}", None)
    return Changed(
        {*updated, created["id"], deleted},
        f"updated {', '.join(updated)}; created {created['id']}; deleted {deleted}",
    )


async def _mailchimp_changes(call: Call, sandbox: str) -> Changed:
    state = await call("GET", sandbox + "/_admin/state", None)
    first, second = state["lists"][0], state["lists"][1]
    changed = first["members"][0]
    archived = first["members"][2]
    other = second["members"][1]
    # one batch, one second: a profile change, a subscribe, an archive (Mailchimp's delete)
    ops = [
        {"op": "update", "list": first["id"], "email": changed["email_address"],
         "mergeFields": {"FNAME": "Grace", "COMPANY": "Head of Demos"}},
        {"op": "update", "list": second["id"], "email": other["email_address"],
         "mergeFields": {"LNAME": "Hopper"}},
        {"op": "create", "list": first["id"], "email": "ada@example.com",
         "mergeFields": {"FNAME": "Ada", "LNAME": "Lovelace"}},
        {"op": "archive", "list": first["id"], "email": archived["email_address"]},
    ]  # fmt: skip
    done = await call("POST", sandbox + "/_admin/batch", {"ops": ops})
    created = done["ids"][2]
    return Changed(
        {changed["id"], other["id"], created, archived["id"]},
        f"at {done['at']}: updated {changed['id'][:8]}… and {other['id'][:8]}…; "
        f"subscribed ada@example.com ({created[:8]}…); archived {archived['id'][:8]}…",
    )


_ACTON_CONTACTS = {
    "url": "/hubs/marketing/lists/{listId}/contacts?where=modafter='${epoch}'",
    "idField": "_contact_id_",
    "datesConfiguration": {
        "updatedDateField": "__modified_date",
        "updatedDateFormat": "milliseconds",
        "createdDateField": "__created_date",
        "createdDateFormat": "milliseconds",
    },
}

SCRIPTS = {
    "acton": Script(
        key="acton",
        name="Act-On",
        sandbox_args=("sandbox", "acton", "--lists", "2", "--contacts", "5"),
        setting="HEADWATER_ACTON_BASE_URL",
        instance_name="Act-On with polling",
        change=_acton_changes,
        poller_configuration={"contacts": _ACTON_CONTACTS},
    ),
    "mailchimp": Script(
        key="mailchimp",
        name="Mailchimp",
        sandbox_args=("sandbox", "mailchimp", "--lists", "2", "--members", "5"),
        setting="HEADWATER_MAILCHIMP_LOGIN_URL",
        instance_name="Mailchimp with polling",
        change=_mailchimp_changes,
    ),
}
