"""Many instances at a one-minute interval: polls per second achieved, start lag p50/p99 and
resident memory per Headwater process.

``--instances`` instances (for the real figure: ``--instances 10000 --workers 2 --settle 120
--seconds 120``) poll their list every ``--interval`` seconds (default 60) against the fake
Act-On, with no changes. Every ``--sample`` seconds the bench reads each poller's due time and
last start from the database (read only); a poll's start lag is its start minus the due time
seen before it. The window starts ``--settle`` seconds after every instance's first poll (due
at its creation, with its first reconciliation) is done. The baselines, from the same run: the
polls the schedule made due in the window, and how late a plain asyncio timer in the bench
process wakes (this machine's own lateness under its current load).

    .venv/bin/python bench/scale.py [--database-url postgresql] [--workers 2]
        [--instances 300] [--interval 60] [--seconds 75] [--settle 0] [--profile DIR]

Prints JSON: polls/s started, polls/s due and the share of the polls due in the window that
started (``started_of_due``, the ratio), start lag p50/p99/max (ms), the timer baseline, CPU
milliseconds per poll, and the largest resident set of each process (MB).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import Any

import aiohttp
import common
import sqlalchemy as sa

from headwater.storage import db, tables


async def timer_lateness(stop: asyncio.Event, period: float, samples: list[float]) -> None:
    loop = asyncio.get_running_loop()
    target = loop.time() + period
    while not stop.is_set():
        await asyncio.sleep(max(0.0, target - loop.time()))
        samples.append(max(0.0, loop.time() - target))
        target += period


async def watch(
    url: str,
    stop: asyncio.Event,
    every: float,
    dues: set[tuple[int, dt.datetime]],
    runs: dict[tuple[int, dt.datetime], dt.datetime],
) -> None:
    """Sample every poller's due time and last start: note each due time seen and, for each
    start after a due time seen, that due time and the start."""
    engine = db.make_engine(url)
    p = tables.pollers
    seen: dict[int, tuple[dt.datetime | None, dt.datetime | None]] = {}
    try:
        while not stop.is_set():
            async with db.reading(engine) as conn:
                query = sa.select(p.c.id, p.c.next_run_at, p.c.last_run_at)
                rows = (await conn.execute(query)).all()
            for row in rows:
                before = seen.get(row.id)
                if before is not None and row.last_run_at != before[1]:
                    due, last = before
                    if last is not None and due is not None and row.last_run_at is not None:
                        runs[(row.id, due)] = row.last_run_at
                if row.next_run_at is not None:
                    dues.add((row.id, row.next_run_at))
                seen[row.id] = (row.next_run_at, row.last_run_at)
            await asyncio.sleep(every)
    finally:
        await engine.dispose()


async def main(args: argparse.Namespace) -> None:
    result: dict[str, Any] = {
        "bench": "scale",
        "instances": args.instances,
        "interval_s": args.interval,
        "bar": {"start_lag_p99_ms": 5000, "rss_mb_per_process": 300},
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
            env = {
                "HEADWATER_ACTON_BASE_URL": provider.url,
                "HEADWATER_MIN_REFRESH_SECONDS": str(min(60.0, args.interval)),
            }
            async with common.headwater(url, args.workers, folder, env) as hw:
                pg = None if url.startswith("sqlite") else common.PgStats(url)
                if pg is not None:
                    await pg.prepare()
                idle = hw.cpu()
                await asyncio.sleep(5.0)
                idle_share = (hw.cpu() - idle) / 5.0
                stop = asyncio.Event()
                dues: set[tuple[int, dt.datetime]] = set()
                runs: dict[tuple[int, dt.datetime], dt.datetime] = {}
                baseline: list[float] = []
                rss: list[list[float]] = []
                watcher = asyncio.create_task(watch(url, stop, args.sample, dues, runs))
                await common.create_instances(
                    hw,
                    provider,
                    args.instances,
                    lambda n: common.configuration(args.interval, f"{receiver.url}/hook/{n}"),
                    concurrency=args.create_concurrency,
                )

                # the window starts once every instance's first poll is done
                async def first_polls_done() -> bool:
                    calls = (await provider.get(http, "/_bench/stats"))["calls"]
                    return bool(calls["dated_download"] >= args.instances)

                await common.wait_for(first_polls_done, within=600, what="the first polls")
                await asyncio.sleep(args.settle)
                window_start = dt.datetime.now(dt.UTC)
                timer = asyncio.create_task(timer_lateness(stop, 0.05, baseline))
                before = (await provider.get(http, "/_bench/stats"))["calls"]["dated_download"]
                pg_before = await pg.snapshot() if pg else None
                cpu, clock = hw.cpu(), time.monotonic()
                spy = asyncio.create_task(
                    common.profile(hw.pids, min(args.seconds, 60), args.profile, "scale")
                )
                deadline = clock + args.seconds
                while time.monotonic() < deadline:
                    rss.append(hw.rss())
                    await asyncio.sleep(1.0)
                elapsed, cpu = time.monotonic() - clock, hw.cpu() - cpu
                window_end = dt.datetime.now(dt.UTC)
                await asyncio.sleep(2 * args.sample)  # the starts of the last polls due
                polls = (await provider.get(http, "/_bench/stats"))["calls"][
                    "dated_download"
                ] - before
                stop.set()
                await asyncio.gather(watcher, timer, spy)
                # the polls due in the window (after each instance's first), started or not
                due = {d for d in dues if window_start <= d[1] <= window_end}
                lags = [max(0.0, (runs[d] - d[1]).total_seconds()) for d in due if d in runs]
                run: dict[str, Any] = {
                    "polls_per_s": round(polls / elapsed, 2),
                    "polls_due_per_s": round(len(due) / elapsed, 2),
                    "polls_due_in_window": len(due),
                    "started_of_due": common.ratio(len(lags), len(due)),
                    "start_lag_ms": common.summary(lags),
                    "baseline_timer_late_ms": common.summary(baseline),
                    "cpu_ms_per_poll": round(1000 * cpu / polls, 3) if polls else None,
                    "cpu_share_of_cores": round(cpu / elapsed, 2),
                    "idle_cpu_share_before_instances": round(idle_share, 3),
                    "max_rss_mb_per_process": [max(col) for col in zip(*rss, strict=True)],
                }
                p99 = run["start_lag_ms"]["p99"]
                run["meets_bar"] = (
                    p99 is not None
                    and p99 < 5000
                    and max(run["max_rss_mb_per_process"]) < 300
                    and run["start_lag_ms"]["n"] > 0
                )
                if pg is not None and pg_before is not None:
                    run["postgresql_per_poll"] = await pg.per_unit(pg_before, polls)
                result["run"] = run
                common.log(f"scale: {run}")
    common.emit(result)


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between polls")
    parser.add_argument("--sample", type=float, default=1.0, help="seconds between reads")
    parser.add_argument("--create-concurrency", type=int, default=8)
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        help="seconds between the first polls and the window (the catch-up after creation)",
    )


if __name__ == "__main__":
    asyncio.run(main(common.arguments(__doc__ or "", 75.0, _flags)))
