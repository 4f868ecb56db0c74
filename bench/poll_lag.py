"""How late does a poller start? The real scheduler, many instances due every few seconds.

Starts the Act-On sandbox (``headwater sandbox acton``, a process of its own, as a provider is),
creates ``--instances`` polling instances (through the
real OAuth code exchange) refreshing every ``--interval`` seconds, runs the poller scheduler for
``--seconds`` and prints the start lag of every poll (its start minus the time it was due)
against a baseline measured in the same process and loop at the same time: how late an asyncio
timer that asks to wake every 50 ms actually wakes. The scheduler adds its tick
(``HEADWATER_TICK_SECONDS``, 0.25 s by default) at most, plus the claim.

    .venv/bin/python bench/poll_lag.py [--instances 150] [--interval 5] [--seconds 30]
        [--database-url postgresql://postgres@127.0.0.1/bench] [--tick 0.25] [--concurrency 16]

A PostgreSQL database given with ``--database-url`` must exist and be empty (it is migrated).
Each instance's first poll (with its first reconciliation) is due when it is created, so the
first two intervals are reported apart, as the warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import shutil
import socket
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp

from headwater import bootstrap
from headwater.instances import service as instance_service
from headwater.poller import scheduler, service
from headwater.poller.context import Deps
from headwater.settings import Settings
from headwater.storage import db, migrate, pollers, tenants

REDIRECT = "https://bench.example.com/callback"
CLIENT_ID, CLIENT_SECRET = "sandbox-client", "sandbox-secret"  # the sandbox's defaults


def _configuration(interval: float) -> dict[str, object]:
    return {
        "oauth.api.key": CLIENT_ID,
        "oauth.api.secret": CLIENT_SECRET,
        "oauth.callback.url": REDIRECT,
        "event.notification.enabled": True,
        "event.vendor.type": "polling",
        "event.poller.refresh_interval": interval / 60,
        "event.notification.callback.url": "https://bench.example.com/events",
        "event.poller.configuration": {
            "contacts": {
                "url": "/hubs/marketing/lists/{listId}/contacts?where=modafter='${epoch}'",
                "idField": "_contact_id_",
                "datesConfiguration": {
                    "updatedDateField": "__modified_date",
                    "updatedDateFormat": "milliseconds",
                    "createdDateField": "__created_date",
                    "createdDateFormat": "milliseconds",
                },
            }
        },
    }


def _percentiles(samples: Sequence[float]) -> str:
    if not samples:
        return "no samples"
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"n={len(ordered):6d}  p50={p50 * 1000:8.1f} ms  p99={p99 * 1000:8.1f} ms  "
        f"max={ordered[-1] * 1000:8.1f} ms"
    )


async def _timer_lateness(stop: asyncio.Event, period: float, samples: list[float]) -> None:
    """The baseline: how late a plain asyncio sleep wakes in this loop."""
    loop = asyncio.get_running_loop()
    target = loop.time() + period
    while not stop.is_set():
        await asyncio.sleep(max(0.0, target - loop.time()))
        samples.append(max(0.0, loop.time() - target))
        target += period


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def _sandbox() -> AsyncIterator[str]:
    """``headwater sandbox acton`` on a free port, until the block ends."""
    port = _free_port()
    headwater = shutil.which("headwater", path=str(Path(sys.executable).parent)) or "headwater"
    process = await asyncio.create_subprocess_exec(
        *[headwater, "sandbox", "acton", "--port", str(port), "--lists", "1", "--contacts", "5"],
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{url}/_admin/health") as reply:
                        if reply.status == 200:
                            break
                await asyncio.sleep(0.05)
        yield url
    finally:
        process.terminate()
        await process.wait()


async def _code(http: aiohttp.ClientSession, sandbox_url: str) -> str:
    """An authorization code, as the Approve button of the sandbox's authorize page gives."""
    form = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "state": "bench",
        "decision": "approve",
    }
    async with http.post(f"{sandbox_url}/authorize", data=form, allow_redirects=False) as reply:
        location = reply.headers["Location"]
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))["code"]


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        await migrate.upgrade(url)
        async with _sandbox() as sandbox_url:
            settings = Settings(
                database_url=url,
                data_dir=Path(folder),
                secret_key="bench-secret-key-for-headwater",
                min_refresh_seconds=1.0,
                tick_seconds=args.tick,
                poll_concurrency=args.concurrency,
                element_settings={
                    "HEADWATER_ACTON_BASE_URL": sandbox_url,
                    "HEADWATER_ACTON_RATE_PER_SECOND": "1000",
                },
            )
            async with bootstrap.container(settings, loops=False) as c:
                await _run(c, sandbox_url, args)


async def _run(c: bootstrap.Container, sandbox_url: str, args: argparse.Namespace) -> None:
    async with db.transaction(c.engine) as conn:
        tenant = await tenants.create(conn, organization_name="Bench", now=dt.datetime.now(dt.UTC))
    principal = tenants.Principal(tenant.organization_id, tenant.user_id)
    configuration = _configuration(args.interval)
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        for n in range(args.instances):
            await c.instances.create(
                principal,
                instance_service.InstanceInput(
                    element_key="acton",
                    name=f"bench {n}",
                    configuration=configuration,
                    code=await _code(http, sandbox_url),
                ),
            )
    print(f"created {args.instances} instances in {time.monotonic() - started:.1f} s")

    lags: list[float] = []
    warmup: list[float] = []
    outcomes: dict[str, int] = {}
    # the first runs (due when each instance was created, with their first reconciliation)
    # all fall due at once: they are reported apart
    steady_from = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2 * args.interval)

    async def timed(deps: Deps, group: list[pollers.Claimed]) -> list[service.Outcome]:
        now = dt.datetime.now(dt.UTC)
        lag = max(0.0, (now - group[0].due_at).total_seconds())
        (lags if group[0].due_at >= steady_from else warmup).append(lag)
        done = await service.run_claimed(deps, group)
        for outcome in done:
            outcomes[outcome.status] = outcomes.get(outcome.status, 0) + 1
        return done

    stop = asyncio.Event()
    baseline: list[float] = []
    runner = scheduler.Scheduler(c, concurrency=args.concurrency, runner=timed)
    loop_task = asyncio.create_task(runner.run(stop))
    timer_task = asyncio.create_task(_timer_lateness(stop, 0.05, baseline))
    await asyncio.sleep(args.seconds)
    stop.set()
    await asyncio.gather(loop_task, timer_task)
    print(
        f"{args.instances} instances every {args.interval:g} s for {args.seconds:g} s "
        f"(tick {args.tick:g} s, {args.concurrency} slots, {c.engine.dialect.name}); "
        f"outcomes {outcomes}"
    )
    print(f"  warm-up (2 intervals) {_percentiles(warmup)}")
    print(f"  poll start lag        {_percentiles(lags)}")
    print(f"  asyncio timer late    {_percentiles(baseline)}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=150)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between polls")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to run")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--tick", type=float, default=0.25)
    parser.add_argument("--concurrency", type=int, default=16)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_arguments()))
