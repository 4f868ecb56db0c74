"""A webhook that names no instance is matched against the instances with a finder only."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from headwater.storage import db, instances, tables, tenants

FINDER = "event.notification.instance.finder"


async def test_only_instances_setting_the_key_are_read(db_url: str) -> None:
    engine = db.make_engine(db_url)
    now = dt.datetime.now(dt.UTC)
    try:
        async with db.transaction(engine) as conn:
            tenant = await tenants.create(conn, organization_name="Acme", now=now)
            configurations = [
                {FINDER: "acton.list|data.listId", "acton.list": "l-1"},
                {"acton.list": "l-2"},
                {FINDER: None},
                {FINDER: "acton.list|data.listId", "acton.list": "l-3"},
            ]
            for n, (element_key, configuration) in enumerate(
                [("acton", c) for c in configurations] + [("mailchimp", configurations[0])]
            ):
                await conn.execute(
                    sa.insert(tables.instances).values(
                        organization_id=tenant.organization_id,
                        user_id=tenant.user_id,
                        element_key=element_key,
                        name=f"i{n}",
                        tags=[],
                        token_hash=f"{n:064x}",
                        configuration=configuration,
                        secrets="",
                        valid=True,
                        disabled=False,
                        events_enabled=True,
                        subscription_active=True,
                        created_at=now,
                        updated_at=now,
                    )
                )
        async with db.reading(engine) as conn:
            found = await instances.of_element_having(conn, "acton", FINDER)
        assert [i.name for i in found] == ["i0", "i3"]
    finally:
        await engine.dispose()
