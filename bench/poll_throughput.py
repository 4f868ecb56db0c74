"""Polls per second, against raw GETs per second to the same fake Act-On in the same run.

A poll of the bench's resource (every list's contacts changed since the cursor) is two GETs:
the list listing and one list download. The baseline is an aiohttp client loop sending exactly
those two GETs, as many in flight as Headwater has poll slots (``--concurrency`` x
``--workers``), against the same stand-in; it runs first, before Headwater starts. Then
``--instances`` instances poll back to back (``HEADWATER_MIN_REFRESH_SECONDS`` = their interval =
``--interval``) for ``--seconds`` with 0 and then with 10 (``--changes``) changed rows per poll;
changed rows become events and one notification per poll, delivered to a fast receiver.

    .venv/bin/python bench/poll_throughput.py [--database-url postgresql] [--workers 2]
        [--seconds 15] [--instances 64] [--changes 0,10] [--profile DIR]

Prints JSON: for each number of changes, polls/s (counted by the stand-in), the raw polls/s, the
ratio, and CPU milliseconds per poll (all Headwater processes) and per raw poll (the client
loop), plus PostgreSQL's per-poll counters on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import aiohttp
import common


async def raw_polls(
    provider: common.StandIn, accounts: list[str], tokens: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    """The two GETs of a poll, in a tight loop, ``concurrency`` in flight."""
    concurrency = args.concurrency * args.workers
    done = 0
    stop_at = time.monotonic() + args.seconds
    turns = itertools.cycle(range(len(tokens)))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def loop() -> None:
            nonlocal done
            while time.monotonic() < stop_at:
                token = tokens[next(turns)]
                headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
                async with http.get(
                    f"{provider.url}/api/1/list",
                    params={"listingtype": "CONTACT_LIST", "count": "1000", "offset": "0"},
                    headers=headers,
                ) as reply:
                    await reply.read()
                since = int(time.time() * 1000) - 60_000
                async with http.get(
                    f"{provider.url}/api/1/list/l-0001",
                    params={
                        "count": "200",
                        "offset": "0",
                        "modafter": str(since),
                        "datequalifiers": "true",
                    },
                    headers=headers,
                ) as reply:
                    await reply.read()
                done += 1

        cpu, clock = common.own_cpu_seconds(), time.monotonic()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed, cpu = time.monotonic() - clock, common.own_cpu_seconds() - cpu
    return {
        "polls_per_s": round(done / elapsed, 1),
        "gets_per_s": round(2 * done / elapsed, 1),
        "cpu_ms_per_poll": round(1000 * cpu / done, 3) if done else None,
        "in_flight": concurrency,
    }


async def raw_tokens(provider: common.StandIn, count: int) -> tuple[list[str], list[str]]:
    """Accounts (and their access tokens) of the baseline's own."""
    accounts, tokens = [], []
    async with aiohttp.ClientSession() as http:
        for _ in range(count):
            grant = await provider.get(http, "/_bench/code")
            form = {"grant_type": "authorization_code", "code": grant["code"]}
            async with http.post(f"{provider.url}/token", data=form) as reply:
                tokens.append((await reply.json())["access_token"])
            accounts.append(grant["account"])
    return accounts, tokens


async def main(args: argparse.Namespace) -> None:
    changes = [int(x) for x in args.changes.split(",")]
    result: dict[str, Any] = {"bench": "poll_throughput", "instances": args.instances}
    with common.temporary_folder() as name:
        folder = Path(name)
        async with (
            common.stand_in("provider") as provider,
            common.stand_in("receiver") as receiver,
            common.database(args.database_url, folder) as url,
        ):
            result.update(common.describe(args, url))
            accounts, tokens = await raw_tokens(provider, args.instances)
            baselines = {}
            async with aiohttp.ClientSession() as http:
                for n in changes:
                    await provider.post(http, "/_bench/config", {"changes": n})
                    baselines[n] = await raw_polls(provider, accounts, tokens, args)
                    common.log(f"raw polls with {n} changes: {baselines[n]}")
                await provider.post(http, "/_bench/config", {"changes": 0})
            env = {
                "HEADWATER_ACTON_BASE_URL": provider.url,
                "HEADWATER_MIN_REFRESH_SECONDS": str(args.interval),
                "HEADWATER_POLL_CONCURRENCY": str(args.concurrency),
            }
            async with common.headwater(url, args.workers, folder, env) as hw:
                pg = None if url.startswith("sqlite") else common.PgStats(url)
                if pg is not None:
                    await pg.prepare()
                await common.create_instances(
                    hw,
                    provider,
                    args.instances,
                    lambda n: common.configuration(args.interval, f"{receiver.url}/hook/{n}"),
                )
                runs = []
                async with aiohttp.ClientSession() as http:
                    for n in changes:
                        await provider.post(http, "/_bench/config", {"changes": n})
                        await asyncio.sleep(args.warmup)  # first polls, reconciliations
                        runs.append(await measure(hw, provider, receiver, pg, http, n, args))
                        runs[-1]["baseline"] = baselines[n]
                        runs[-1]["ratio"] = common.ratio(
                            runs[-1]["polls_per_s"], baselines[n]["polls_per_s"]
                        )
                        common.log(f"headwater with {n} changes: {runs[-1]}")
                result["runs"] = runs
                result["rss_mb"] = hw.rss()
    common.emit(result)


async def measure(
    hw: common.Headwater,
    provider: common.StandIn,
    receiver: common.StandIn,
    pg: common.PgStats | None,
    http: aiohttp.ClientSession,
    changes: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    before = (await provider.get(http, "/_bench/stats"))["calls"]
    posts = (await receiver.get(http, "/_bench/stats"))["posts"]
    pg_before = await pg.snapshot() if pg else None
    cpu, stand_in_cpu, clock = hw.cpu(), provider.cpu() + receiver.cpu(), time.monotonic()
    await asyncio.gather(
        asyncio.sleep(args.seconds),
        common.profile(hw.pids, args.seconds, args.profile, f"poll-{changes}-changes"),
    )
    elapsed = time.monotonic() - clock
    cpu, stand_in_cpu = hw.cpu() - cpu, provider.cpu() + receiver.cpu() - stand_in_cpu
    after = (await provider.get(http, "/_bench/stats"))["calls"]
    posts = (await receiver.get(http, "/_bench/stats"))["posts"] - posts
    polls = after["dated_download"] - before["dated_download"]
    found: dict[str, Any] = {
        "changes_per_poll": changes,
        "polls_per_s": round(polls / elapsed, 1),
        "gets_per_s": round(
            (after["lists"] + after["download"] - before["lists"] - before["download"]) / elapsed, 1
        ),
        "cpu_ms_per_poll": round(1000 * cpu / polls, 3) if polls else None,
        "cpu_share_of_cores": round(cpu / elapsed, 2),
        "stand_ins_cpu_share": round(stand_in_cpu / elapsed, 2),
        "notifications_delivered_per_s": round(posts / elapsed, 1),
    }
    if pg is not None and pg_before is not None:
        found["postgresql_per_poll"] = await pg.per_unit(pg_before, polls)
    return found


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instances", type=int, default=64)
    parser.add_argument("--changes", default="0,10", help="changed rows per poll, comma-separated")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between polls")
    parser.add_argument("--concurrency", type=int, default=16, help="poll slots per process")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")


if __name__ == "__main__":
    asyncio.run(main(common.arguments(__doc__ or "", 15.0, _flags)))
