"""Webhook in to notification out: p50/p99 of the time from a provider's webhook being sent to
Headwater to its notification arriving at the receiver, over ``--webhooks`` webhooks on loopback.

The bench plays the provider: it sends Svix-signed ``contact.updated`` webhooks (one contact
each, spread over ``--instances`` instances taking webhooks) at ``--rate`` per second, noting the
wall-clock time before each POST; the receiver notes when each ``objectId`` arrives. Headwater
verifies, routes and stores each one, writes its notification in the same transaction and wakes
the delivery worker at once (its tick is left at the default). The bar: p99 under 100 ms.
The baseline, measured first against the same receiver, is the least any relay can do: an
aiohttp server that verifies the signature and POSTs the event straight on (nothing stored).

    .venv/bin/python bench/webhook_latency.py [--database-url postgresql] [--workers 2]
        [--webhooks 1000] [--rate 100] [--instances 4]

Prints JSON: the latency figures (milliseconds), the time to answer each webhook (intake),
the baseline's, the ratio of the p99s, the
webhooks refused or never delivered, and Headwater's CPU milliseconds per webhook.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import common
from aiohttp import web

from headwater.domain import signing

BAR_P99_MS = 100.0


def _body(object_id: str) -> bytes:
    now = int(time.time() * 1000)
    contact = {"_contact_id_": object_id, "__created_date": now, "__modified_date": now}
    payload = {"type": "contact.updated", "timestamp": now, "data": {"contact": contact}}
    return json.dumps(payload, separators=(",", ":")).encode()


def _signed(key: str, body: bytes) -> dict[str, str]:
    message_id, stamp = "msg_" + uuid.uuid4().hex, int(time.time())
    return {
        "Content-Type": "application/json",
        "svix-id": message_id,
        "svix-timestamp": str(stamp),
        "svix-signature": signing.standard_signature(key, message_id, stamp, body),
    }


async def send_all(
    http: aiohttp.ClientSession, targets: list[tuple[str, str]], args: argparse.Namespace
) -> tuple[dict[str, float], int, list[float]]:
    """``--webhooks`` webhooks at ``--rate`` per second, round robin over ``targets`` (URL and
    key); the wall-clock time each was sent, how many were refused, and how long each took to
    be answered (its intake)."""
    sent: dict[str, float] = {}
    answered: list[float] = []
    refused = 0
    loop = asyncio.get_running_loop()
    start = loop.time()
    run = uuid.uuid4().hex[:6]

    async def one(n: int) -> None:
        nonlocal refused
        url, key = targets[n % len(targets)]
        object_id = f"l-{run}:{n}"
        body = _body(object_id)
        headers = _signed(key, body)
        sent[object_id] = time.time()
        async with http.post(url, data=body, headers=headers) as reply:
            await reply.read()
            if reply.status != 200:
                refused += 1
        answered.append(time.time() - sent[object_id])

    tasks = []
    for n in range(args.webhooks):
        await asyncio.sleep(max(0.0, start + n / args.rate - loop.time()))
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    return sent, refused, answered


async def latencies(
    receiver: common.StandIn, http: aiohttp.ClientSession, sent: dict[str, float]
) -> tuple[list[float], int]:
    async def arrived() -> bool:
        found = await receiver.get(http, "/_bench/arrivals")
        return all(object_id in found for object_id in sent)

    with contextlib.suppress(TimeoutError):
        await common.wait_for(arrived, within=30, what="the last notifications")
    found = await receiver.get(http, "/_bench/arrivals")
    samples = [found[o] - at for o, at in sent.items() if o in found]
    return samples, len(sent) - len(samples)


@contextlib.asynccontextmanager
async def relay(receiver: common.StandIn, key: str) -> Any:
    """The baseline: verify the signature, POST the event to the receiver, answer 200."""
    async with aiohttp.ClientSession() as out:

        async def hook(request: web.Request) -> web.Response:
            body = await request.read()
            headers = request.headers
            if not signing.verify_standard(
                key, headers["svix-id"], headers["svix-timestamp"], body, headers["svix-signature"]
            ):
                return web.Response(status=401)
            object_id = json.loads(body)["data"]["contact"]["_contact_id_"]
            message = {"message": {"events": [{"objectId": object_id}]}}
            async with out.post(f"{receiver.url}/relay", json=message) as reply:
                await reply.read()
            return web.Response(text="ok")

        app = web.Application()
        app.add_routes([web.post("/hook", hook)])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = common.free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield f"http://127.0.0.1:{port}/hook"
        finally:
            await runner.cleanup()


async def baseline(
    receiver: common.StandIn, http: aiohttp.ClientSession, args: argparse.Namespace
) -> dict[str, Any]:
    key = signing.generate_key()
    async with relay(receiver, key) as url:
        await receiver.post(http, "/_bench/record")
        cpu = common.own_cpu_seconds()
        sent, refused, answered = await send_all(http, [(url, key)], args)
        samples, missing = await latencies(receiver, http, sent)
        cpu = common.own_cpu_seconds() - cpu
    return {
        "latency_ms": common.summary(samples),
        "intake_ms": common.summary(answered),
        "refused": refused,
        "missing": missing,
        "cpu_ms_per_webhook_bench_and_relay": round(1000 * cpu / len(sent), 3),
    }


def _configuration(callback_url: str, key: str) -> dict[str, object]:
    found = common.configuration(60, callback_url)
    found["event.vendor.type"] = "webhooks"
    found["event.vendor.signature.key"] = key
    found.pop("event.poller.configuration")
    found.pop("event.poller.refresh_interval")
    return found


async def main(args: argparse.Namespace) -> None:
    result: dict[str, Any] = {
        "bench": "webhook_latency",
        "webhooks": args.webhooks,
        "rate_per_s": args.rate,
        "instances": args.instances,
        "bar_p99_ms": BAR_P99_MS,
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
            base = await baseline(receiver, http, args)
            common.log(f"relay: {base}")
            env = {"HEADWATER_ACTON_BASE_URL": provider.url}
            async with common.headwater(url, args.workers, folder, env) as hw:
                keys = [signing.generate_key() for _ in range(args.instances)]
                created = await common.create_instances(
                    hw,
                    provider,
                    args.instances,
                    lambda n: _configuration(f"{receiver.url}/hook/{n}", keys[n]),
                )
                targets = [
                    (
                        f"{hw.url}{common.API}/events/acton/"
                        + base64.urlsafe_b64encode(str(c["id"]).encode()).decode().rstrip("="),
                        keys[n],
                    )
                    for n, c in enumerate(created)
                ]
                await receiver.post(http, "/_bench/record")
                cpu, clock = hw.cpu(), time.monotonic()
                sent, refused, answered = await send_all(http, targets, args)
                samples, missing = await latencies(receiver, http, sent)
                elapsed, cpu = time.monotonic() - clock, hw.cpu() - cpu
                run: dict[str, Any] = {
                    "latency_ms": common.summary(samples),
                    "intake_ms": common.summary(answered),
                    "refused": refused,
                    "missing": missing,
                    "cpu_ms_per_webhook": round(1000 * cpu / len(sent), 3),
                    "cpu_share_of_cores": round(cpu / elapsed, 2),
                }
                result["rss_mb"] = hw.rss()
            run["baseline"] = base
            run["ratio_p99"] = common.ratio(run["latency_ms"]["p99"], base["latency_ms"]["p99"])
            p99 = run["latency_ms"]["p99"]
            run["meets_bar"] = (
                p99 is not None and missing == 0 and refused == 0 and p99 < BAR_P99_MS
            )
            result["run"] = run
            common.log(f"webhook latency: {run}")
    common.emit(result)


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--webhooks", type=int, default=1000, help="webhooks to send (>= 1000)")
    parser.add_argument("--rate", type=float, default=100.0, help="webhooks per second")
    parser.add_argument("--instances", type=int, default=4)


if __name__ == "__main__":
    asyncio.run(main(common.arguments(__doc__ or "", 10.0, _flags)))
