"""What the benchmarks share: the stand-ins, Headwater's processes, CPU and memory readings,
PostgreSQL's statistics, instance creation through the API and the JSON they print.

Headwater runs as a user runs it: ``headwater serve`` (API and workers) plus ``--workers - 1``
``headwater worker`` processes, configured through ``HEADWATER_*`` variables, with a database of
its own (a temporary SQLite file, or a PostgreSQL database created for the run and dropped after
it). CPU is read from ``/proc/<pid>/stat`` (user + system time of every thread of the process).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp

BENCH = Path(__file__).resolve().parent
API = "/elements/api-v2"
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"
REDIRECT = "https://bench.example.com/callback"
TICKS = os.sysconf("SC_CLK_TCK")
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def executable(name: str) -> str:
    return shutil.which(name, path=str(Path(sys.executable).parent)) or name


# -- readings ------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def own_cpu_seconds() -> float:
    return time.process_time()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentile(samples: Sequence[float], q: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(samples: Sequence[float], scale: float = 1000.0) -> dict[str, float | int | None]:
    """n, p50, p99 and max, in milliseconds by default."""

    def scaled(value: float | None) -> float | None:
        return None if value is None else round(value * scale, 1)

    return {
        "n": len(samples),
        "p50": scaled(statistics.median(samples) if samples else None),
        "p99": scaled(percentile(samples, 0.99)),
        "max": scaled(max(samples) if samples else None),
    }


def ratio(value: float | None, baseline: float | None) -> float | None:
    if value is None or not baseline:
        return None
    return round(value / baseline, 3)


async def wait_for(
    check: Callable[[], Awaitable[bool]], *, within: float, what: str, every: float = 0.1
) -> None:
    """Poll ``check`` until it holds; raise after ``within`` seconds naming ``what``."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(every)


# -- the stand-ins -------------------------------------------------------------------------------


@dataclasses.dataclass
class StandIn:
    url: str
    process: asyncio.subprocess.Process

    async def get(self, http: aiohttp.ClientSession, path: str) -> Any:
        async with http.get(self.url + path) as reply:
            reply.raise_for_status()
            return await reply.json()

    async def post(self, http: aiohttp.ClientSession, path: str, body: object = None) -> Any:
        async with http.post(self.url + path, json=body or {}) as reply:
            reply.raise_for_status()
            return await reply.json()

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)


@contextlib.asynccontextmanager
async def stand_in(role: str) -> AsyncIterator[StandIn]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(BENCH / "stand_ins.py"), role, "--port", str(port)
    )
    found = StandIn(f"http://127.0.0.1:{port}", process)
    try:
        async with aiohttp.ClientSession() as http:

            async def up() -> bool:
                with contextlib.suppress(aiohttp.ClientError):
                    await found.get(http, "/_bench/stats")
                    return True
                return False

            await wait_for(up, within=20, what=f"the {role} stand-in")
        yield found
    finally:
        process.terminate()
        await process.wait()


# -- the database --------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def database(url: str | None, folder: Path) -> AsyncIterator[str]:
    """A SQLite file in ``folder`` (``url`` None or ``sqlite``) or a new PostgreSQL database on
    the server of ``url`` (``postgresql`` alone means the local one), dropped afterwards."""
    if url is None or url == "sqlite":
        yield f"sqlite:///{folder / 'headwater.db'}"
        return
    import asyncpg

    if url == "postgresql":
        url = DEFAULT_PG
    admin_url = url.split("+asyncpg")[0].rsplit("/", 1)[0] + "/postgres"
    name = f"hwbench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


class PgStats:
    """``pg_stat_database`` counters of one database (``sessions``: connections opened),
    ``pg_stat_all_tables`` scans of each of its tables and catalogs (and ``pg_stat_statements``
    when the server preloads it), read before and after a measurement."""

    COUNTERS = (
        "xact_commit",
        "xact_rollback",
        "tup_returned",
        "tup_fetched",
        "tup_inserted",
        "tup_updated",
        "tup_deleted",
        "blks_hit",
        "blks_read",
        "sessions",
    )
    TABLE_COUNTERS = ("seq_scan", "seq_tup_read", "idx_scan", "idx_tup_fetch")

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = url.rsplit("/", 1)[1]
        self.statements = False

    async def _connect(self) -> Any:
        import asyncpg

        return await asyncpg.connect(self.url)

    async def prepare(self) -> None:
        conn = await self._connect()
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await conn.fetch("SELECT 1 FROM pg_stat_statements LIMIT 1")
            self.statements = True
        except Exception as error:
            log(f"pg_stat_statements unavailable: {str(error).splitlines()[0]}")
        finally:
            await conn.close()

    async def snapshot(self) -> dict[str, int]:
        if self.statements:
            conn = await self._connect()
            try:
                await conn.execute("SELECT pg_stat_statements_reset()")
            finally:
                await conn.close()
        return await self.snapshot_without_reset()

    async def per_unit(self, before: dict[str, int], units: float) -> dict[str, Any]:
        after = await self.snapshot_without_reset()
        found: dict[str, Any] = {
            f"{k}_per_unit": round((after[k] - before[k]) / units, 2) if units else None
            for k in self.COUNTERS
        }
        tables: dict[str, dict[str, float]] = {}
        for key, value in after.items():
            if "." not in key or not units:
                continue
            table, counter = key.split(".", 1)
            delta = (value - before.get(key, 0)) / units
            if delta:
                tables.setdefault(table, {})[f"{counter}_per_unit"] = round(delta, 2)
        found["tables"] = tables
        if self.statements:
            found["top_statements"] = await self.top_statements(units)
        return found

    async def snapshot_without_reset(self) -> dict[str, int]:
        conn = await self._connect()
        try:
            await conn.execute("SELECT pg_stat_clear_snapshot()")
            row = await conn.fetchrow(
                f"SELECT {', '.join(self.COUNTERS)} FROM pg_stat_database WHERE datname = $1",
                self.name,
            )
            found = {k: int(row[k]) for k in self.COUNTERS}
            for table in await conn.fetch(
                "SELECT relname, " + ", ".join(self.TABLE_COUNTERS) + " FROM pg_stat_all_tables "
                "WHERE schemaname = 'public'"
            ):
                for counter in self.TABLE_COUNTERS:
                    found[f"{table['relname']}.{counter}"] = int(table[counter] or 0)
            # index entries read: a scan that reads many and fetches few is a missing index
            for index in await conn.fetch(
                "SELECT indexrelname, idx_tup_read FROM pg_stat_user_indexes"
            ):
                found[f"{index['indexrelname']}.idx_tup_read"] = int(index["idx_tup_read"] or 0)
            return found
        finally:
            await conn.close()

    async def top_statements(self, units: float) -> list[dict[str, Any]]:
        conn = await self._connect()
        try:
            rows = await conn.fetch(
                "SELECT calls, total_exec_time, rows, left(regexp_replace(query, '\\s+', ' ', "
                "'g'), 160) AS query FROM pg_stat_statements s JOIN pg_database d "
                "ON d.oid = s.dbid WHERE d.datname = $1 ORDER BY total_exec_time DESC LIMIT 12",
                self.name,
            )
        finally:
            await conn.close()
        return [
            {
                "calls_per_unit": round(r["calls"] / units, 2) if units else None,
                "ms_per_unit": round(r["total_exec_time"] / units, 3) if units else None,
                "query": r["query"],
            }
            for r in rows
        ]


# -- Headwater -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Headwater:
    """A running Headwater: its API URL, the API's credentials and every process's pid."""

    url: str
    database_url: str
    auth: str
    processes: list[asyncio.subprocess.Process]
    folder: Path

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def rss(self) -> list[float]:
        return [round(rss_mb(pid), 1) for pid in self.pids]


def headwater_env(database_url: str, folder: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update(
        {
            "HEADWATER_DATABASE_URL": database_url,
            "HEADWATER_DATA_DIR": str(folder),
            "HEADWATER_SECRET_KEY": "bench-secret-key-for-headwater-0123456789",
            "HEADWATER_ALLOW_PRIVATE_CALLBACKS": "1",
            # the per-account Act-On limit would cap every figure at 5 calls/s per instance
            "HEADWATER_ACTON_RATE_PER_SECOND": "100000",
        }
    )
    env.update(extra)
    return env


async def _run_cli(env: dict[str, str], *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        executable("headwater"),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"headwater {' '.join(args)} failed: {err.decode()[-2000:]}")
    return out.decode()


@contextlib.asynccontextmanager
async def headwater(
    database_url: str, workers: int, folder: Path, extra_env: dict[str, str]
) -> AsyncIterator[Headwater]:
    """``headwater serve`` plus ``workers - 1`` ``headwater worker`` processes, and a user."""
    env = headwater_env(database_url, folder, extra_env)
    await _run_cli(env, "db", "upgrade")
    tenant = json.loads(await _run_cli(env, "users", "create", "--org", "Bench", "--json"))
    auth = f"User {tenant['userSecret']}, Organization {tenant['organizationSecret']}"
    port = free_port()
    logs = (folder / "headwater.log").open("ab")
    processes = [
        await asyncio.create_subprocess_exec(
            executable("headwater"),
            "serve",
            "--port",
            str(port),
            env=env,
            stdout=logs,
            stderr=logs,
        )
    ]
    for _ in range(workers - 1):
        processes.append(
            await asyncio.create_subprocess_exec(
                executable("headwater"), "worker", env=env, stdout=logs, stderr=logs
            )
        )
    found = Headwater(f"http://127.0.0.1:{port}", database_url, auth, processes, folder)
    try:
        async with aiohttp.ClientSession() as http:

            async def ready() -> bool:
                for p in processes:
                    if p.returncode is not None:
                        raise RuntimeError(f"headwater exited; see {folder / 'headwater.log'}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(found.url + "/readyz") as reply:
                        return reply.status == 200
                return False

            await wait_for(ready, within=60, what="headwater serve")
        yield found
    finally:
        for p in processes:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
        for p in processes:
            try:
                await asyncio.wait_for(p.wait(), timeout=20)
            except TimeoutError:
                p.kill()
                await p.wait()
        logs.close()


def configuration(
    interval_seconds: float, callback_url: str, *, signature_key: str | None = None
) -> dict[str, object]:
    """An Act-On instance polling its list's contacts every ``interval_seconds``."""
    found: dict[str, object] = {
        "oauth.api.key": CLIENT_ID,
        "oauth.api.secret": CLIENT_SECRET,
        "oauth.callback.url": REDIRECT,
        "event.notification.enabled": True,
        "event.vendor.type": "polling",
        "event.poller.refresh_interval": interval_seconds / 60,
        "event.notification.callback.url": callback_url,
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
    if signature_key:
        found["event.notification.signature.key"] = signature_key
    return found


async def create_instances(
    hw: Headwater,
    provider: StandIn,
    count: int,
    make_configuration: Callable[[int], dict[str, object]],
    *,
    concurrency: int = 8,
) -> list[dict[str, Any]]:
    """``count`` instances through ``POST /instances``, each with a code (its own account) from
    the provider stand-in; returns ``{"id", "account"}`` of each, in creation order."""
    created: list[dict[str, Any]] = [{} for _ in range(count)]
    numbers = iter(range(count))
    started = time.monotonic()
    headers = {"Authorization": hw.auth}
    async with aiohttp.ClientSession() as http:

        async def one_by_one() -> None:
            for n in numbers:
                grant = await provider.get(http, "/_bench/code")
                body = {
                    "element": {"key": "acton"},
                    "name": f"bench {n}",
                    "providerData": {"code": grant["code"]},
                    "configuration": make_configuration(n),
                }
                async with http.post(
                    f"{hw.url}{API}/instances", json=body, headers=headers
                ) as reply:
                    answer = await reply.json()
                    if reply.status != 200:
                        raise RuntimeError(f"creating an instance failed: {answer}")
                created[n] = {"id": answer["id"], "account": grant["account"]}

        await asyncio.gather(*(one_by_one() for _ in range(concurrency)))
    log(f"created {count} instances in {time.monotonic() - started:.1f} s")
    return created


# -- profiling -----------------------------------------------------------------------------------


async def profile(pids: Sequence[int], seconds: float, folder: Path | None, name: str) -> None:
    """Sample each process with py-spy for ``seconds`` into ``folder`` (collapsed stacks and a
    flame graph), when ``folder`` is given and py-spy is installed; else return at once."""
    if folder is None:
        return
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        log("--profile needs py-spy (pip install py-spy); not profiling")
        return
    os.makedirs(folder, exist_ok=True)
    jobs = []
    for n, pid in enumerate(pids):
        for fmt, suffix in (("raw", "txt"),):
            jobs.append(
                await asyncio.create_subprocess_exec(
                    spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(max(1, int(seconds))),
                    "--rate",
                    "200",
                    "--format",
                    fmt,
                    "--nonblocking",
                    "--output",
                    str(folder / f"{name}-process{n}.{suffix}"),
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
            )
    await asyncio.gather(*(job.wait() for job in jobs))


# -- the command line ----------------------------------------------------------------------------


def arguments(
    doc: str, seconds: float, add: Callable[[argparse.ArgumentParser], None]
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=doc.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="sqlite (default, a temporary file) or a PostgreSQL URL (or just 'postgresql' for "
        "the local server) on which a database is created for the run and dropped after it",
    )
    parser.add_argument("--workers", type=int, default=1, help="Headwater processes (default 1)")
    parser.add_argument("--seconds", type=float, default=seconds, help="measurement window")
    parser.add_argument(
        "--profile", type=Path, default=None, help="folder for py-spy profiles of the window"
    )
    add(parser)
    return parser.parse_args()


def temporary_folder() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="headwater-bench-")


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result, indent=2))


def describe(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    return {
        "database": "sqlite" if database_url.startswith("sqlite") else "postgresql",
        "workers": args.workers,
        "seconds": args.seconds,
        "cores": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
