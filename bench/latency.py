"""Change to callback: p50/p99 of the time from a row changing at the provider to its event
arriving at the receiver, with ``--instances`` instances polling at the minimum interval.

Every ``--period`` seconds for ``--seconds`` one row of a random instance's list changes at the
fake Act-On (which notes the wall-clock time); the receiver notes when each event's ``objectId``
arrives. The bar: p99 under the interval plus one second. The baseline, measured first in the
same run against the same stand-ins, is the least any poller can do: an aiohttp loop per account
that every ``--interval`` sends the poll's two GETs and POSTs what it found straight away.

    .venv/bin/python bench/latency.py [--database-url postgresql] [--workers 2]
        [--instances 50] [--interval 1] [--seconds 20] [--profile DIR]

Prints JSON: the latency figures (milliseconds), the baseline's, the ratio of the p99s, changes
that never arrived, and CPU milliseconds per poll (Headwater processes; the baseline's client).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import time
from pathlib import Path
from typing import Any

import aiohttp
import common


async def changes(
    provider: common.StandIn,
    http: aiohttp.ClientSession,
    accounts: list[str],
    args: argparse.Namespace,
) -> dict[str, float]:
    """Change one row of a random account every ``--period`` for ``--seconds``."""
    made: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    stop_at = next_at + args.seconds
    while next_at < stop_at:
        answer = await provider.post(http, "/_bench/touch", {"account": random.choice(accounts)})
        made[answer["objectId"]] = answer["at"]
        next_at += args.period
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    return made


async def latencies(
    receiver: common.StandIn,
    http: aiohttp.ClientSession,
    made: dict[str, float],
    args: argparse.Namespace,
) -> tuple[list[float], int]:
    """The latency of every change that arrived, waiting for late ones; and how many never did."""

    async def arrived() -> bool:
        found = await receiver.get(http, "/_bench/arrivals")
        return all(object_id in found for object_id in made)

    with contextlib.suppress(TimeoutError):
        await common.wait_for(arrived, within=args.interval + 10, what="the last changes")
    found = await receiver.get(http, "/_bench/arrivals")
    samples = [found[o] - at for o, at in made.items() if o in found]
    return samples, len(made) - len(samples)


async def raw_pipeline(
    provider: common.StandIn,
    receiver: common.StandIn,
    http: aiohttp.ClientSession,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """One poll loop per account: the two GETs every interval, a POST of anything new."""
    accounts, tokens = [], []
    for _ in range(args.instances):
        grant = await provider.get(http, "/_bench/code")
        form = {"grant_type": "authorization_code", "code": grant["code"]}
        async with http.post(f"{provider.url}/token", data=form) as reply:
            tokens.append((await reply.json())["access_token"])
        accounts.append(grant["account"])
    stop = asyncio.Event()
    polls = 0

    async def poller(token: str, hook: str) -> None:
        nonlocal polls
        headers = {"Authorization": f"Bearer {token}"}
        seen: set[tuple[str, str]] = set()
        loop = asyncio.get_running_loop()
        next_at = loop.time() + random.random() * args.interval
        while not stop.is_set():
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at += args.interval
            since = int(time.time() * 1000) - 60_000
            async with http.get(f"{provider.url}/api/1/list", headers=headers) as reply:
                await reply.read()
            params = {"modafter": str(since), "datequalifiers": "true"}
            async with http.get(
                f"{provider.url}/api/1/list/l-0001", params=params, headers=headers
            ) as reply:
                page = await reply.json()
            polls += 1
            new = [row for row in page["data"] if (row[0], row[-1]) not in seen]
            if new:
                seen.update((row[0], row[-1]) for row in new)
                message = {"message": {"events": [{"objectId": row[0]} for row in new]}}
                async with http.post(f"{receiver.url}{hook}", json=message) as reply:
                    await reply.read()

    tasks = [asyncio.create_task(poller(token, f"/raw/{n}")) for n, token in enumerate(tokens)]
    await asyncio.sleep(args.interval)  # every loop has polled once: old rows are seen
    await receiver.post(http, "/_bench/record")
    cpu, polls_before, clock = common.own_cpu_seconds(), polls, time.monotonic()
    made = await changes(provider, http, accounts, args)
    samples, missing = await latencies(receiver, http, made, args)
    elapsed, cpu = time.monotonic() - clock, common.own_cpu_seconds() - cpu
    done = polls - polls_before
    stop.set()
    await asyncio.gather(*tasks)
    return {
        "latency_ms": common.summary(samples),
        "missing": missing,
        "polls_per_s": round(done / elapsed, 1),
        "cpu_ms_per_poll": round(1000 * cpu / done, 3) if done else None,
    }


async def main(args: argparse.Namespace) -> None:
    result: dict[str, Any] = {
        "bench": "latency",
        "instances": args.instances,
        "interval_s": args.interval,
        "bar_p99_ms": 1000 * (args.interval + 1),
    }
    with common.temporary_folder() as name:
        folder = Path(name)
        async with (
            common.stand_in("provider") as provider,
            common.stand_in("receiver") as receiver,
            common.database(args.database_url, folder) as url,
            aiohttp.ClientSession() as http,
        ):
            result.update(common.describe(args, url))
            baseline = await raw_pipeline(provider, receiver, http, args)
            common.log(f"raw pipeline: {baseline}")
            env = {
                "HEADWATER_ACTON_BASE_URL": provider.url,
                "HEADWATER_MIN_REFRESH_SECONDS": str(args.interval),
            }
            async with common.headwater(url, args.workers, folder, env) as hw:
                pg = None if url.startswith("sqlite") else common.PgStats(url)
                if pg is not None:
                    await pg.prepare()
                created = await common.create_instances(
                    hw,
                    provider,
                    args.instances,
                    lambda n: common.configuration(args.interval, f"{receiver.url}/hook/{n}"),
                )
                # the first polls (with their reconciliations) all fall due at once
                await asyncio.sleep(2 * args.interval + 2)
                await receiver.post(http, "/_bench/record")
                before = (await provider.get(http, "/_bench/stats"))["calls"]["dated_download"]
                pg_before = await pg.snapshot() if pg else None
                cpu, clock = hw.cpu(), time.monotonic()
                spy = asyncio.create_task(
                    common.profile(hw.pids, args.seconds, args.profile, "latency")
                )
                made = await changes(provider, http, [c["account"] for c in created], args)
                elapsed, cpu = time.monotonic() - clock, hw.cpu() - cpu
                polls = (await provider.get(http, "/_bench/stats"))["calls"][
                    "dated_download"
                ] - before
                samples, missing = await latencies(receiver, http, made, args)
                run: dict[str, Any] = {
                    "latency_ms": common.summary(samples),
                    "missing": missing,
                    "changes": len(made),
                    "polls_per_s": round(polls / elapsed, 1),
                    "cpu_ms_per_poll": round(1000 * cpu / polls, 3) if polls else None,
                    "cpu_share_of_cores": round(cpu / elapsed, 2),
                }
                if pg is not None and pg_before is not None:
                    run["postgresql_per_poll"] = await pg.per_unit(pg_before, polls)
                await spy
                result["rss_mb"] = hw.rss()
            run["baseline"] = baseline
            run["ratio_p99"] = common.ratio(run["latency_ms"]["p99"], baseline["latency_ms"]["p99"])
            p99 = run["latency_ms"]["p99"]
            run["meets_bar"] = p99 is not None and missing == 0 and p99 < result["bar_p99_ms"]
            result["run"] = run
            common.log(f"latency: {run}")
    common.emit(result)


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    parser.add_argument("--period", type=float, default=0.1, help="seconds between changes")


if __name__ == "__main__":
    asyncio.run(main(common.arguments(__doc__ or "", 20.0, _flags)))
