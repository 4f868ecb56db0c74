"""Claims and purges write their LIMIT into the statement: PostgreSQL's generic plan of a
prepared ``UPDATE … WHERE id IN (SELECT … LIMIT :n)`` cannot see a bound limit, expects every
row and scans the whole table on each claim."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from sqlalchemy import event

from headwater.storage import db, delivery_claims, delivery_log, pollers
from tests import delivery_support as support


async def test_claims_and_purges_carry_their_limit_in_the_text(db_url: str, tmp_path: Path) -> None:
    async with support.container(support.settings_for(db_url, tmp_path)) as c:
        sent: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            sent.append(statement)

        event.listen(c.engine.sync_engine, "before_cursor_execute", seen)
        now = dt.datetime.now(dt.UTC)
        until = now + dt.timedelta(seconds=60)
        async with db.transaction(c.engine) as conn:
            await pollers.claim(conn, owner="w/1", now=now, until=until, limit=7)
            await delivery_claims.claim(conn, owner="w/2", now=now, until=until, limit=5)
            await delivery_log.purge_events(conn, before=now, batch=3)
        event.remove(c.engine.sync_engine, "before_cursor_execute", seen)
        claims = [s for s in sent if s.lstrip().upper().startswith(("UPDATE", "DELETE"))]
        assert len(claims) == 3, sent
        for statement, limit in zip(claims, (7, 5, 3), strict=True):
            assert re.search(rf"LIMIT {limit}\b", statement), statement
