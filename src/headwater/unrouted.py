"""``headwater webhooks unrouted``: the webhooks that matched no instance, bodies included.

An unrouted webhook belongs to no organization, so the API lists what arrived and why it was not
routed, never its headers or body; the server's operator reads those here.
"""

from __future__ import annotations

import json

from headwater import runtime, settings
from headwater.domain import dates
from headwater.storage import db
from headwater.storage import inbound as stored


def show(*, limit: int, json_output: bool) -> None:
    """Print the newest ``limit`` unrouted webhooks, newest first."""
    found = runtime.run(lambda config: newest(config, limit))
    if json_output:
        print(json.dumps([_as_json(row) for row in found], ensure_ascii=False))
        return
    if not found:
        print("No unrouted webhooks.")
    for row in found:
        print(f"#{row.id} {dates.iso(row.received_at)} {row.element_key}: {row.problem}")
        for name, value in sorted(row.headers.items()):
            print(f"  {name}: {value}")
        print(f"  {row.body.decode('utf-8', 'replace')}")


async def newest(config: settings.Settings, limit: int) -> list[stored.Stored]:
    engine = db.make_engine(config.database_url)
    try:
        async with db.reading(engine) as conn:
            return await stored.page(conn, outcome=stored.UNROUTED, before_id=None, limit=limit)
    finally:
        await engine.dispose()


def _as_json(row: stored.Stored) -> dict[str, object]:
    return {
        "id": row.id,
        "receivedDate": dates.iso(row.received_at),
        "elementKey": row.element_key,
        "problem": row.problem,
        "contentType": row.content_type,
        "headers": row.headers,
        "body": row.body.decode("utf-8", "replace"),
    }
