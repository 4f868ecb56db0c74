"""Deliveries per second draining a backlog over many instances, against raw POSTs per second.

``--instances`` instances each find ``--backlog`` x 10 changed rows in their first poll, i.e.
``--backlog`` notifications of 10 events each, while the receiver holds every request it gets
(so each instance's first notification waits at the receiver and the rest queue behind it).
Then the receiver lets go and the drain is timed until every notification has arrived. The
polls run every minute, so none runs during the drain. The baseline, measured right after in
the same run, is an aiohttp client loop POSTing one of the notifications exactly as it arrived
(body and headers) to the same receiver, with as many in flight as Headwater could have
(``min(instances, --delivery-concurrency x --workers)``) for ``--seconds``; ``--profile``
samples the first ``--seconds`` of the drain.

    .venv/bin/python bench/delivery_throughput.py [--database-url postgresql] [--workers 2]
        [--instances 50] [--backlog 20] [--profile DIR]

Prints JSON: deliveries/s, raw POSTs/s, the ratio and CPU milliseconds per delivery (all
Headwater processes) and per raw POST (the client loop), plus PostgreSQL's per-delivery counters.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import common


async def raw_posts(
    receiver: common.StandIn, sample: dict[str, Any], count: int, in_flight: int, seconds: float
) -> dict[str, Any]:
    """POST the sample notification ``count`` times (or for ``seconds``), ``in_flight`` at once."""
    body = sample["body"].encode()
    headers = {
        k: v
        for k, v in sample["headers"].items()
        if k.lower() not in ("content-length", "transfer-encoding", "connection")
    }
    url = receiver.url + sample["path"]
    left = count
    done = 0
    stop_at = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def loop() -> None:
            nonlocal left, done
            while left > 0 and time.monotonic() < stop_at:
                left -= 1
                async with http.post(url, data=body, headers=headers) as reply:
                    await reply.read()
                    if reply.status == 200:
                        done += 1

        cpu, clock = common.own_cpu_seconds(), time.monotonic()
        await asyncio.gather(*(loop() for _ in range(in_flight)))
        elapsed, cpu = time.monotonic() - clock, common.own_cpu_seconds() - cpu
    return {
        "deliveries_per_s": round(done / elapsed, 1),
        "cpu_ms_per_delivery": round(1000 * cpu / done, 3) if done else None,
        "in_flight": in_flight,
        "body_bytes": len(body),
    }


async def main(args: argparse.Namespace) -> None:
    total = args.instances * args.backlog
    in_flight = min(args.instances, args.delivery_concurrency * args.workers)
    result: dict[str, Any] = {
        "bench": "delivery_throughput",
        "instances": args.instances,
        "notifications": total,
        "events_per_notification": 10,
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
            await provider.post(
                http, "/_bench/config", {"changes": 0, "first_changes": 10 * args.backlog}
            )
            await receiver.post(http, "/_bench/hold")
            env = {
                "HEADWATER_ACTON_BASE_URL": provider.url,
                "HEADWATER_DELIVERY_CONCURRENCY": str(args.delivery_concurrency),
                "HEADWATER_DELIVERY_TIMEOUT_SECONDS": "600",
            }
            async with common.headwater(url, args.workers, folder, env) as hw:
                pg = None if url.startswith("sqlite") else common.PgStats(url)
                if pg is not None:
                    await pg.prepare()
                await common.create_instances(
                    hw,
                    provider,
                    args.instances,
                    lambda n: common.configuration(60.0, f"{receiver.url}/hook/{n}"),
                )

                async def backlog_ready() -> bool:
                    calls = (await provider.get(http, "/_bench/stats"))["calls"]
                    held = (await receiver.get(http, "/_bench/stats"))["held"]
                    return calls["dated_download"] >= args.instances and held >= in_flight

                await common.wait_for(backlog_ready, within=300, what="the backlog")
                await asyncio.sleep(1.0)  # the last polls' commits
                posts = (await receiver.get(http, "/_bench/stats"))["posts"]
                pg_before = await pg.snapshot() if pg else None
                cpu, clock = hw.cpu(), time.monotonic()
                await receiver.post(http, "/_bench/release")

                async def drained() -> bool:
                    found = (await receiver.get(http, "/_bench/stats"))["posts"]
                    return bool(found - posts >= total)

                spy = asyncio.create_task(
                    common.profile(hw.pids, args.seconds, args.profile, "delivery")
                )
                await common.wait_for(drained, within=600, what="the drain", every=0.05)
                elapsed, cpu = time.monotonic() - clock, hw.cpu() - cpu
                run: dict[str, Any] = {
                    "deliveries_per_s": round(total / elapsed, 1),
                    "events_per_s": round(10 * total / elapsed, 1),
                    "drain_seconds": round(elapsed, 2),
                    "cpu_ms_per_delivery": round(1000 * cpu / total, 3),
                    "cpu_share_of_cores": round(cpu / elapsed, 2),
                }
                if pg is not None and pg_before is not None:
                    run["postgresql_per_delivery"] = await pg.per_unit(pg_before, total)
                await spy
                result["rss_mb"] = hw.rss()
            sample = await receiver.get(http, "/_bench/sample")
            baseline = await raw_posts(receiver, sample, 10**9, in_flight, args.seconds)
            run["baseline"] = baseline
            run["ratio"] = common.ratio(run["deliveries_per_s"], baseline["deliveries_per_s"])
            result["run"] = run
            common.log(f"delivery: {run}")
    common.emit(result)


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--backlog", type=int, default=20, help="notifications per instance")
    parser.add_argument(
        "--delivery-concurrency", type=int, default=32, help="HEADWATER_DELIVERY_CONCURRENCY"
    )


if __name__ == "__main__":
    asyncio.run(main(common.arguments(__doc__ or "", 5.0, _flags)))
