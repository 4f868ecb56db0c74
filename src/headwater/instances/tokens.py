"""An instance's provider access token, refreshed under the instance's lease row.

Act-On refresh tokens are single-use, so two processes must never spend the same one. A refresh
first claims the instance's refresh lease with one conditional UPDATE; the others poll the row until
the new token appears (or the lease frees or expires). The new pair is written by the same
statement that releases the lease.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from headwater.elements import registry
from headwater.errors import ProviderRefusal, ProviderUnavailable
from headwater.instances import pollers, records
from headwater.settings import Settings
from headwater.storage import db, instances, secrets

log = logging.getLogger(__name__)

WAIT_STEP = 0.05
LEASE_MARGIN = 30.0


@dataclasses.dataclass(frozen=True)
class _State:
    access: str | None
    refresh: str | None
    expires_at: dt.datetime | None
    lease_owner: str | None
    lease_until: dt.datetime | None
    valid: bool
    invalid_reason: str | None
    row: instances.Instance
    account: dict[str, Any]


class InstanceTokens:
    """The ``TokenSource`` of one instance: ``current()`` and ``refreshed(rejected)``."""

    def __init__(
        self,
        *,
        settings: Settings,
        engine: AsyncEngine,
        http: aiohttp.ClientSession,
        secrets: secrets.SecretBox,
        registry: registry.Registry,
        instance_id: int,
        owner: str,
        known: instances.Instance | None = None,
        cache: records.RecordCache | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.http = http
        self.box = secrets
        self.registry = registry
        self.instance_id = instance_id
        self.owner = owner
        # the record as the caller read it (still current, see records.RecordCache), whose
        # token serves until it nears expiry without a read
        self.known = known
        self.cache = cache

    async def current(self) -> str:
        """The access token; refreshed first when it expires within the refresh margin."""
        margin = dt.timedelta(seconds=self.settings.token_refresh_margin_seconds)
        known, cache = self.known, self.cache
        if known is not None and cache is not None and known.valid:
            access = cache.tokens(known).get("access_token")
            expires_at = known.token_expires_at
            if access is not None and (expires_at is None or expires_at - _now() > margin):
                return str(access)
        state = await self._load()
        if state.access is not None and (
            state.expires_at is None or state.expires_at - _now() > margin
        ):
            return state.access
        return await self._refresh(stale=state.access)

    async def refreshed(self, rejected: str) -> str:
        """A token other than ``rejected``: refresh unless another process already did."""
        state = await self._load()
        if state.access is not None and state.access != rejected:
            return state.access
        return await self._refresh(stale=rejected)

    async def _load(self) -> _State:
        async with db.reading(self.engine) as conn:
            row = await instances.get(conn, self.instance_id, organization_id=None)
        if row is None:
            raise ProviderRefusal(f"Instance {self.instance_id} no longer exists.")
        tokens: dict[str, Any] = self.box.open(row.provider_tokens) if row.provider_tokens else {}
        return _State(
            access=tokens.get("access_token"),
            refresh=tokens.get("refresh_token"),
            expires_at=row.token_expires_at,
            lease_owner=row.refresh_lease_owner,
            lease_until=row.refresh_lease_until,
            valid=row.valid,
            invalid_reason=row.invalid_reason,
            row=row,
            account=dict(tokens.get("account") or {}),
        )

    def _check_valid(self, state: _State) -> None:
        if not state.valid:
            raise ProviderRefusal(
                f"Instance {self.instance_id} must be re-authenticated (PUT with a new code).",
                provider_message=state.invalid_reason,
            )

    async def _refresh(self, stale: str | None) -> str:
        lease = self.settings.provider_timeout_seconds + LEASE_MARGIN
        deadline = asyncio.get_running_loop().time() + 2 * lease
        while True:
            state = await self._load()
            self._check_valid(state)
            if state.access is not None and state.access != stale:
                return state.access
            now = _now()
            async with db.transaction(self.engine) as conn:
                claimed = await instances.claim_refresh_lease(
                    conn,
                    self.instance_id,
                    owner=self.owner,
                    now=now,
                    until=now + dt.timedelta(seconds=lease),
                )
            if claimed:
                return await self._refresh_holding_lease(stale)
            if asyncio.get_running_loop().time() > deadline:
                raise ProviderUnavailable(
                    f"Timed out waiting for another process to refresh instance {self.instance_id}."
                )
            await asyncio.sleep(WAIT_STEP)

    async def _refresh_holding_lease(self, stale: str | None) -> str:
        try:
            state = await self._load()
        except BaseException:
            await asyncio.shield(self._release())
            raise
        # someone refreshed between our read and our claim
        if state.access is not None and state.access != stale:
            await self._release()
            return state.access
        if not state.refresh:
            reason = "No refresh token is stored; re-authenticate the instance."
            await self._invalidate(state, reason)
            raise ProviderRefusal(reason)
        try:
            element = self.registry.get(state.row.element_key)
            stored_secrets = self.box.open(state.row.secrets)
            granted = await element.refresh(
                self.http,
                refresh_token=state.refresh,
                client_id=state.row.config.client_id,
                client_secret=str(stored_secrets.get("oauth.api.secret", "")),
            )
        except ProviderRefusal as error:
            await self._invalidate(state, error.provider_message or error.message)
            raise
        except BaseException:
            await asyncio.shield(self._release())
            raise
        pair: dict[str, Any] = {
            "access_token": granted.access_token,
            # a provider that does not rotate refresh tokens keeps the old one valid
            "refresh_token": granted.refresh_token or state.refresh,
        }
        account = dict(granted.account) or state.account
        if account:
            pair["account"] = account
        sealed = self.box.seal(pair)
        async with db.transaction(self.engine) as conn:
            kept = await instances.release_refresh_lease(
                conn,
                self.instance_id,
                owner=self.owner,
                change=instances.Change(
                    provider_tokens=sealed, token_expires_at=granted.expires_at, updated_at=_now()
                ),
            )
            if not kept:
                # the lease expired under us; the pair we got is the live one, keep it anyway
                log.warning("refresh lease of instance %s expired mid-refresh", self.instance_id)
                await instances.update(
                    conn,
                    self.instance_id,
                    instances.Change(
                        provider_tokens=sealed,
                        token_expires_at=granted.expires_at,
                        updated_at=_now(),
                    ),
                )
        log.info("refreshed the provider token of instance %s", self.instance_id)
        return granted.access_token

    async def _release(self) -> None:
        async with db.transaction(self.engine) as conn:
            await instances.release_refresh_lease(conn, self.instance_id, owner=self.owner)

    async def _invalidate(self, state: _State, reason: str) -> None:
        """Mark the instance invalid (its pollers stop) and release the lease in one transaction."""

        async def invalidate(conn: AsyncConnection) -> None:
            now = _now()
            await instances.release_refresh_lease(
                conn,
                self.instance_id,
                owner=self.owner,
                change=instances.Change(valid=False, invalid_reason=reason, updated_at=now),
            )
            await pollers.sync(
                conn,
                self.instance_id,
                state.row.configuration,
                active=False,
                now=now,
                overlap_seconds=self.settings.poll_overlap_seconds,
            )

        await db.write(self.engine, invalidate)
        log.warning("instance %s is now invalid: %s", self.instance_id, reason)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
