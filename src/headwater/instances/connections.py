"""An instance's way to its provider: its hub, its tokens and its rate limit.

One ``Connections`` per process, built in the composition root, serves the poller and the hub
routes alike. It keeps the instances it works with in memory while their version stands
(:mod:`headwater.instances.records`) and one rate limiter per instance, shared through the
database on PostgreSQL (:mod:`headwater.instances.rate`).
"""

from __future__ import annotations

import datetime as dt

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from headwater.elements import api_keys, base, limits, registry
from headwater.instances import rate, records
from headwater.instances import tokens as tokens_module
from headwater.settings import Settings
from headwater.storage import db, instances, secrets


class Connections:
    """How this process reaches each instance's provider."""

    def __init__(
        self,
        *,
        settings: Settings,
        engine: AsyncEngine,
        http: aiohttp.ClientSession,
        secrets: secrets.SecretBox,
        registry: registry.Registry,
        node_id: str,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.http = http
        self.box = secrets
        self.registry = registry
        self.node_id = node_id
        # one rate limiter per instance, shared by its pollers and hub calls
        self.limiters = limits.RateLimiters()
        self.records = records.RecordCache(secrets)
        self._shared: dict[int, rate.SharedRateLimiter] = {}

    async def record(
        self, instance_id: int, updated_at: dt.datetime | None
    ) -> instances.Instance | None:
        """The instance as stored, from memory when ``updated_at`` (its version, as a claim
        returned it) says the copy there is current; None when it is gone."""
        kept = None if updated_at is None else self.records.get(instance_id, updated_at)
        if kept is not None:
            return kept
        async with db.reading(self.engine) as conn:
            row = await instances.get(conn, instance_id, organization_id=None)
        if row is None:
            self.records.forget(instance_id)
            return None
        self.records.put(row)
        return row

    def tokens(
        self, instance_id: int, known: instances.Instance | None = None
    ) -> tokens_module.InstanceTokens:
        """The provider access token of an instance, refreshed under its lease when due;
        ``known``: the instance as just read, whose token serves until it nears expiry."""
        return tokens_module.InstanceTokens(
            settings=self.settings,
            engine=self.engine,
            http=self.http,
            secrets=self.box,
            registry=self.registry,
            instance_id=instance_id,
            owner=self.node_id,
            known=known,
            cache=self.records,
        )

    def hub(self, instance: instances.Instance) -> base.Hub:
        """The hub of an instance (as just read): its element's, calling the provider with the
        instance's tokens under its rate limit, on the process's HTTP session, at the
        account's own API host when the element discovered one."""
        return self.registry.get(instance.element_key).hub(self.connection(instance))

    def connection(self, instance: instances.Instance) -> base.Connection:
        """What the instance's calls to its provider go through (see :meth:`hub`)."""
        of = self.registry.get(instance.element_key)
        account = self.records.tokens(instance).get("account") or {}
        source: base.TokenSource = self.tokens(instance.id, instance)
        if of.api_key_field is not None:
            key = self.box.open(instance.secrets).get(of.api_key_field)
            source = api_keys.StoredKey(key if isinstance(key, str) else "")
        return base.Connection(
            http=self.http,
            tokens=source,
            limiter=self._limiter(instance.id, of.rate_per_second),
            timeout=self.settings.provider_timeout_seconds,
            base_url=str(account.get("base_url") or of.base_url),
        )

    def _limiter(self, instance_id: int, per_second: float) -> base.Limiter:
        """The instance's limiter: this process's alone on SQLite (one process serves it), and
        shared through the database on PostgreSQL, where several may call for it."""
        local = self.limiters.for_instance(instance_id, per_second)
        if self.settings.is_sqlite:
            return local
        shared = self._shared.get(instance_id)
        if shared is None or shared.local is not local:
            shared = self._shared[instance_id] = rate.SharedRateLimiter(
                self.engine, instance_id, local
            )
        return shared
