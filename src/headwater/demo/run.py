"""``make demo``: the whole path on one machine, in well under a minute.

Starts the element's sandbox (Act-On by default; ``--element mailchimp``, or ``make demo
ELEMENT=mailchimp``, for Mailchimp), ``headwater serve`` (SQLite, in a fresh folder under
``headwater-data/demo``) and the callback receiver; creates a user and an instance with polling
through the real OAuth flow (the sandbox's authorize page, Approve pressed); changes contacts in
the sandbox; waits for the receiver to show the signed notifications; and prints what Headwater
recorded. What differs between elements is in :mod:`headwater.demo.elements`. On a terminal
everything keeps running until Ctrl-C (``--exit`` stops at once).
Every process it started is stopped on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import html.parser
import json
import os
import shutil
import signal
import socket
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import aiohttp

from headwater.demo import elements as demo_elements
from headwater.storage import files

CALLBACK = "https://app.example.com/callback"
POLL_EVERY_MINUTES = "0.05"  # 3 s
RECONCILE_EVERY_MINUTES = "0.1"  # 6 s
DEADLINE_SECONDS = 50.0


class DemoError(Exception):
    """The demo could not go on; the message says why."""


class _Form(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = found.get("action", "")
        elif tag == "input" and "name" in found:
            self.fields[found["name"]] = found.get("value", "")


def _port(preferred: int) -> int:
    """``preferred`` when it is free, else any free port."""
    for candidate in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise DemoError("no free port")


def _seconds_until(iso: str | None) -> float:
    if not iso:
        return 0.0
    when = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (when - dt.datetime.now(dt.UTC)).total_seconds()


def _command() -> list[str]:
    found = shutil.which("headwater", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "headwater.cli"]


class Demo:
    def __init__(self, *, stay: bool, element: str = "acton") -> None:
        self.stay = stay
        self.script = demo_elements.SCRIPTS[element]
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.data = Path("headwater-data") / "demo" / stamp
        self.ports = {"sandbox": _port(8100), "api": _port(8000), "receiver": _port(8200)}
        self.sandbox = f"http://127.0.0.1:{self.ports['sandbox']}"
        self.root = f"http://127.0.0.1:{self.ports['api']}"
        self.api = self.root + "/elements/api-v2"
        self.receiver = f"http://127.0.0.1:{self.ports['receiver']}"
        self.env = {
            **os.environ,
            "HEADWATER_DATA_DIR": str(self.data),
            self.script.setting: self.sandbox,
            "HEADWATER_ALLOW_PRIVATE_CALLBACKS": "1",
            "HEADWATER_MIN_REFRESH_SECONDS": "2",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("HEADWATER_DATABASE_URL", None)
        self.processes: list[tuple[str, asyncio.subprocess.Process]] = []
        self.started = time.monotonic()
        self.step = 0
        self.auth = ""
        self.expected: set[str] = set()

    def say(self, text: str) -> None:
        self.step += 1
        print(f"{self.step:2d}. {text}", flush=True)

    async def start(self, name: str, *args: str, pipe: bool = False) -> asyncio.subprocess.Process:
        files.private_file(self.data / f"{name}.log")
        log = (self.data / f"{name}.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            *_command(),
            *args,
            env=self.env,
            stdout=asyncio.subprocess.PIPE if pipe else log,
            stderr=log,
            start_new_session=True,  # Ctrl-C reaches the demo, which stops them in order
        )
        log.close()
        self.processes.append((name, process))
        return process

    async def stop_all(self) -> None:
        for _, process in reversed(self.processes):
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        for _, process in reversed(self.processes):
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()

    async def wait_up(self, http: aiohttp.ClientSession, name: str, url: str) -> None:
        process = dict(self.processes)[name]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.returncode is not None:
                log = (self.data / f"{name}.log").read_text(errors="replace")[-2000:]
                raise DemoError(f"{name} stopped (exit {process.returncode}):\n{log}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
        raise DemoError(f"{name} did not answer at {url} within 30 s")

    async def call(
        self, http: aiohttp.ClientSession, method: str, path: str, body: Any = None
    ) -> Any:
        url = path if path.startswith("http") else self.api + path
        headers = {"Authorization": self.auth} if url.startswith(self.api) else {}
        async with http.request(method, url, json=body, headers=headers) as response:
            text = await response.text()
            if response.status >= 400:
                raise DemoError(f"{method} {url} answered {response.status}: {text}")
            return json.loads(text) if text else None

    async def run(self) -> None:
        files.private_folder(self.data)
        print(f"Headwater demo (data in {self.data}/, logs there too)\n", flush=True)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            await self.start(
                "sandbox", *self.script.sandbox_args, "--port", str(self.ports["sandbox"])
            )
            user = await asyncio.create_subprocess_exec(
                *_command(), "users", "create", "--org", "Demo", "--json",
                env=self.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await user.communicate()
            if user.returncode != 0:
                raise DemoError(f"headwater users create failed: {err.decode()}")
            tenant = json.loads(out)
            self.auth = f"User {tenant['userSecret']}, Organization {tenant['organizationSecret']}"
            await self.start("serve", "serve", "--port", str(self.ports["api"]))
            await self.wait_up(http, "sandbox", self.sandbox + "/_admin/health")
            self.say(f"{self.script.name} sandbox on {self.sandbox} (OAuth client sandbox-client)")
            self.say(
                "`headwater users create --org Demo --json` → organization "
                f"{tenant['organizationId']}, user {tenant['userId']}"
            )
            await self.wait_up(http, "serve", self.root + "/healthz")
            self.say(f"`headwater serve` on {self.root} (SQLite, pollers and deliveries running)")
            instance = await self.create_instance(http)
            key = instance["configuration"]["event.notification.signature.key"]
            receiver = await self.start(
                "receiver", "receiver", "--port", str(self.ports["receiver"]), "--secret", key,
                pipe=True,
            )  # fmt: skip
            echo = asyncio.create_task(self.echo(receiver))
            await self.wait_up(http, "receiver", self.receiver + "/arrivals")
            self.say(f"`headwater receiver --secret <that key>` on {self.receiver}/events")
            await self.first_poll(http, instance["id"])
            await self.change_contacts(http, instance["id"])
            arrivals = await self.wait_for_notifications(http)
            await asyncio.sleep(0.2)  # let the receiver's last lines through
            echo.cancel()
            await self.show_records(http, instance["id"], arrivals)
            await self.show_ui(http, instance["id"])
        print(f"\nDone in {time.monotonic() - self.started:.1f} s.", flush=True)

    async def create_instance(self, http: aiohttp.ClientSession) -> Any:
        query = urllib.parse.urlencode(
            {"apiKey": "sandbox-client", "callbackUrl": CALLBACK, "state": "demo"}
        )
        key = self.script.key
        oauth = await self.call(http, "GET", f"/elements/{key}/oauth/url?{query}")
        async with http.get(oauth["oauthUrl"]) as page:
            form = _Form()
            form.feed(await page.text())
        action = urllib.parse.urljoin(oauth["oauthUrl"], form.action)
        fields = {**form.fields, "decision": "approve"}
        async with http.post(action, data=fields, allow_redirects=False) as approved:
            location = approved.headers.get("Location", "")
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query)).get("code")
        if not code:
            raise DemoError(f"the authorize page did not redirect with a code: {location!r}")
        self.say(f"Authorize page opened, Approve pressed → redirected with code {code[:8]}…")
        pollers = self.script.poller_configuration
        if pollers is None:  # the element's own default, as a client reads it
            described = await self.call(http, "GET", f"/elements/{key}")
            pollers = described["events"]["defaultPollerConfiguration"]
        body = {
            "element": {"key": key},
            "providerData": {"code": code},
            "configuration": {
                "oauth.api.key": "sandbox-client",
                "oauth.api.secret": "sandbox-secret",
                "oauth.callback.url": CALLBACK,
                "event.notification.enabled": True,
                "event.vendor.type": "polling",
                "event.poller.refresh_interval": POLL_EVERY_MINUTES,
                "event.poller.reconcile_interval": RECONCILE_EVERY_MINUTES,
                "event.notification.callback.url": f"{self.receiver}/events",
                "event.poller.configuration": pollers,
            },
            "tags": ["Demo"],
            "name": self.script.instance_name,
        }
        instance = await self.call(http, "POST", "/instances", body)
        key = instance["configuration"]["event.notification.signature.key"]
        self.say(
            f"POST /instances → instance {instance['id']} polling every 3 s; "
            f"generated signature key (shown once): {key}"
        )
        return instance

    async def first_poll(self, http: aiohttp.ClientSession, instance_id: int) -> None:
        """Wait for the first poll and the reconciliation that follows it: that one remembers
        the ids that exist, so that deleting one of them is noticed later."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            (poller,) = await self.call(http, "GET", f"/instances/{instance_id}/pollers")
            # once done, the next reconciliation is scheduled RECONCILE_EVERY_MINUTES ahead
            if poller.get("lastRunDate") and _seconds_until(poller.get("nextReconcileDate")) > 1:
                self.say(
                    f"First poll done (cursor {poller['cursor']}), and the contacts' ids listed "
                    "for delete detection"
                )
                return
            await asyncio.sleep(0.2)
        raise DemoError("the first poll did not happen within 20 s")

    async def change_contacts(self, http: aiohttp.ClientSession, instance_id: int) -> None:
        async def call(method: str, url: str, body: Any) -> Any:
            return await self.call(http, method, url, body)

        changed = await self.script.change(call, self.sandbox)
        self.say(f"Changed the sandbox: {changed.summary}")
        self.expected = changed.ids
        # deletes are found by reconciliation (every 6 s here); ask for one now
        await self.call(http, "POST", f"/instances/{instance_id}/pollers/contacts/reconcile")
        self.say(
            "Waiting for the notifications (polls every 3 s; POST …/pollers/contacts/reconcile "
            "asked for a delete check now):"
        )

    async def echo(self, receiver: asyncio.subprocess.Process) -> None:
        assert receiver.stdout is not None
        async for line in receiver.stdout:
            text = line.decode(errors="replace").rstrip()
            if text and not text.startswith("Receiver listening"):
                print(f"      receiver │ {text}", flush=True)

    async def wait_for_notifications(self, http: aiohttp.ClientSession) -> list[Any]:
        deadline = self.started + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            arrivals = await self.call(http, "GET", self.receiver + "/arrivals")
            seen = {
                event["objectId"]
                for arrival in arrivals
                if arrival.get("verified")
                for event in (arrival.get("json") or {}).get("message", {}).get("events", [])
            }
            if self.expected <= seen:
                return list(arrivals)
            await asyncio.sleep(0.25)
        raise DemoError(f"not every change reached the receiver within {DEADLINE_SECONDS:g} s")

    async def show_records(
        self, http: aiohttp.ClientSession, instance_id: int, arrivals: list[Any]
    ) -> None:
        verified = sum(
            1 for a in arrivals if a.get("elementsVerified") and a.get("standardVerified")
        )
        self.say(
            f"The receiver verified both signatures of {verified} of {len(arrivals)} "
            "notification(s)"
        )
        events = await self.call(http, "GET", f"/instances/{instance_id}/events")
        self.say(f"GET /instances/{instance_id}/events (newest first):")
        for event in events:
            print(
                f"      {event['id']:>3}  {event['eventType']:<8} {event['objectType']} "
                f"{event['objectId']:<10} {event['status']:<10} {event['notificationId']}"
            )
        deliveries = await self.call(http, "GET", "/notifications/subscriptions/deliveries")
        self.say("GET /notifications/subscriptions/deliveries:")
        for delivery in deliveries:
            tries = ", ".join(
                f"{a['statusCode'] or a['error']} in {a['latencyMs']:.0f} ms"
                for a in delivery["attempts"]
            )
            print(
                f"      {delivery['id']:>3}  {delivery['notificationId']}  {delivery['status']:<9} "
                f"attempts: {tries}"
            )

    async def show_ui(self, http: aiohttp.ClientSession, instance_id: int) -> None:
        """Print the web UI's address and a one-time link that signs the demo user in."""
        headers = {"Authorization": self.auth}
        async with http.post(self.root + "/sign-in/links", headers=headers) as response:
            text = await response.text()
            if response.status != 200:
                raise DemoError(f"POST /sign-in/links answered {response.status}: {text}")
            link = json.loads(text)["url"]
        self.say(f"The web UI: {self.root}/ (this instance: {self.root}/instances/{instance_id})")
        print(f"      sign in with one click (once, within 15 minutes): {link}", flush=True)

    async def linger(self) -> None:
        print(
            "\nStill running; try it yourself (see README.md):\n"
            f"  web UI   {self.root}/  (the link above signs you in)\n"
            f"  API      {self.api}  (docs at {self.root}/docs)\n"
            f"  auth     Authorization: {self.auth}\n"
            f"  receiver {self.receiver}/arrivals\n"
            f"  sandbox  {self.sandbox}/_admin/state\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        await asyncio.Event().wait()


async def _main(stay: bool, element: str = "acton") -> int:
    demo = Demo(stay=stay, element=element)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await demo.run()
        if stay:
            await demo.linger()
        return 0
    except DemoError as error:
        print(f"\nThe demo failed: {error}", file=sys.stderr, flush=True)
        return 1
    except asyncio.CancelledError:
        return 0
    finally:
        await demo.stop_all()
        print("Stopped the sandbox, the receiver and the server.", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m headwater.demo", description=__doc__)
    parser.add_argument("--exit", action="store_true", help="Stop once the notifications arrived.")
    parser.add_argument(
        "--element",
        choices=sorted(demo_elements.SCRIPTS),
        default="acton",
        help="The element to show, with its sandbox (default: acton).",
    )
    args = parser.parse_args(argv)
    stay = sys.stdout.isatty() and not args.exit
    try:
        return asyncio.run(_main(stay, args.element))
    except KeyboardInterrupt:
        return 0
