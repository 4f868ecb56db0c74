"""The instances service: create (with the OAuth code exchange), read, update, enable, delete.

Provider calls happen before the transaction that stores their result, so that no database lock is
held across an HTTP call; a creation that fails anywhere leaves no row behind.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets as random_secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from headwater.domain import config_items, instance_config
from headwater.elements import base, element, registry
from headwater.errors import AuthenticationError, HeadwaterError, InputError, NotFoundError
from headwater.instances import configuration as conf
from headwater.instances import pollers, views, webhook_registration
from headwater.settings import Settings
from headwater.storage import db, instances, secrets, tenants


@dataclasses.dataclass(frozen=True)
class InstanceInput:
    """A creation or full replacement (``PUT``), as the caller wrote it."""

    element_key: str
    name: str
    configuration: Mapping[str, Any]
    tags: Sequence[str] = ()
    code: str | None = None


@dataclasses.dataclass(frozen=True)
class InstancePatch:
    """A partial update: absent fields stay; configuration keys merge (None removes)."""

    name: str | None = None
    tags: Sequence[str] | None = None
    configuration: Mapping[str, Any] | None = None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class InstanceService:
    """Element instances of organizations."""

    def __init__(
        self,
        *,
        settings: Settings,
        engine: AsyncEngine,
        http: aiohttp.ClientSession,
        secrets: secrets.SecretBox,
        registry: registry.Registry,
        node_id: str,
        webhooks: webhook_registration.WebhookRegistrar | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        # what time it is, for the overlap of a rotated token (tests move it)
        self.clock: Callable[[], dt.datetime] = _now
        self.http = http
        self.box = secrets
        self.registry = registry
        self.node_id = node_id
        # registers instances' webhooks at providers whose API can (None: never)
        self.webhooks = webhooks

    # reading

    async def get(self, principal: tenants.Principal, instance_id: int) -> views.Instance:
        async with db.reading(self.engine) as conn:
            return self._view(await self._row(conn, principal, instance_id))

    async def page(
        self, principal: tenants.Principal, *, after_id: int | None, limit: int
    ) -> list[views.Instance]:
        """The organization's instances in id order."""
        async with db.reading(self.engine) as conn:
            rows = await instances.page(
                conn, organization_id=principal.organization_id, after_id=after_id, limit=limit
            )
        return [self._view(row) for row in rows]

    async def by_token(self, principal: tenants.Principal, token: str) -> instances.Instance:
        """The organization's instance holding ``token`` (or the token a rotation replaced, while
        its overlap lasts); AuthenticationError when none does."""
        async with db.reading(self.engine) as conn:
            row = await instances.by_token_hash(
                conn,
                hash_token(token),
                organization_id=principal.organization_id,
                now=self.clock(),
            )
        if row is None:
            raise AuthenticationError("The Element token is not valid for this organization.")
        return row

    async def configuration(self, principal: tenants.Principal, instance_id: int) -> dict[str, Any]:
        """The configuration as shown (secrets masked)."""
        return (await self.get(principal, instance_id)).configuration

    async def configuration_item(
        self, principal: tenants.Principal, instance_id: int, reference: str
    ) -> views.ConfigurationItem:
        """The set configuration item named by ``reference`` (its key or numeric id);
        NotFoundError naming it when the instance has none."""
        configuration = await self.configuration(principal, instance_id)
        key = config_items.resolve(reference, configuration)
        if key is None:
            raise NotFoundError(
                f"Instance {instance_id} has no configuration item {reference!r} (a key or an id)."
            )
        return views.ConfigurationItem(config_items.item_id(key), key, configuration[key])

    async def set_configuration_item(
        self, principal: tenants.Principal, instance_id: int, reference: str, value: Any
    ) -> views.ConfigurationItem:
        """Set (None removes) the item named by ``reference``: a key or id of a set item, or of a
        known configuration key; NotFoundError naming it otherwise."""
        configuration = await self.configuration(principal, instance_id)
        key = config_items.resolve(reference, [*configuration, *config_items.CATALOGUE])
        if key is None:
            raise NotFoundError(
                f"Instance {instance_id} has no configuration item {reference!r} (a key or an id)."
            )
        updated = await self.update(
            principal, instance_id, InstancePatch(configuration={key: value})
        )
        return views.ConfigurationItem(
            config_items.item_id(key), key, updated.configuration.get(key)
        )

    # writing

    async def create(self, principal: tenants.Principal, given: InstanceInput) -> views.Instance:
        """Validate, exchange the authorization code, then store the instance in one transaction.

        The response is the only time the instance token (and a generated signature key) is shown.
        """
        element = self._element(given.element_key)
        key_field = element.api_key_field
        raw, problems = conf.merge({}, given.configuration, api_key_field=key_field)
        generated = conf.with_signature_key(raw)
        canonical = conf.normalize(
            element,
            raw,
            problems,
            settings=self.settings,
            code=given.code,
            need_code=True,
            api_key_field=key_field,
        )
        if self.webhooks is not None:
            self.webhooks.prepare(element.key, canonical)
        plain, secret = conf.split(canonical, key_field)
        granted: base.Grant | None = None
        if key_field is None:  # OAuth 2: exchange the code; an API key needs no exchange
            assert given.code is not None
            granted = await self._exchange(element, canonical, given.code)
        token = random_secrets.token_urlsafe(32)
        now = _now()
        events = instance_config.InstanceConfig.read(canonical).events_enabled

        async def store(conn: AsyncConnection) -> instances.Instance:
            new = instances.NewInstance(
                organization_id=principal.organization_id,
                user_id=principal.user_id,
                element_key=element.key,
                name=given.name,
                tags=list(given.tags),
                token_hash=hash_token(token),
                configuration=plain,
                secrets=self.box.seal(secret),
                provider_tokens=None if granted is None else self._seal_tokens(granted),
                token_expires_at=None if granted is None else granted.expires_at,
                valid=True,
                invalid_reason=None,
                disabled=False,
                events_enabled=events,
                subscription_active=True,
                created_at=now,
                updated_at=now,
            )
            instance_id = await instances.insert(conn, new)
            await pollers.sync(
                conn,
                instance_id,
                plain,
                active=pollers.active(
                    instance_config.InstanceConfig.read(plain), valid=True, disabled=False
                ),
                now=now,
                overlap_seconds=self.settings.poll_overlap_seconds,
            )
            return await self._row(conn, principal, instance_id)

        row = await db.write(self.engine, store)
        if self.webhooks is not None:
            try:
                await self.webhooks.sync(row)
            except HeadwaterError:
                # the provider refused the webhook (or could not be reached): no instance
                await db.write(self.engine, lambda conn: instances.delete(conn, row.id))
                raise
        revealed = [conf.SIGNATURE_KEY] if generated else []
        return dataclasses.replace(self._view(row, revealed), token=token)

    async def update(
        self, principal: tenants.Principal, instance_id: int, patch: InstancePatch
    ) -> views.Instance:
        """Change name, tags (replaced) and configuration keys (merged) of an instance."""

        async def change(conn: AsyncConnection) -> tuple[instances.Instance, list[str]]:
            revealed: list[str] = []
            row = await self._row(conn, principal, instance_id, for_update=True)
            change = instances.Change(
                name=instances.KEEP if patch.name is None else patch.name,
                tags=instances.KEEP if patch.tags is None else list(patch.tags),
            )
            if patch.configuration is not None:
                element = self._element(row.element_key)
                raw, problems = conf.merge(
                    self._stored(row), patch.configuration, api_key_field=element.api_key_field
                )
                if conf.with_signature_key(raw):
                    revealed.append(conf.SIGNATURE_KEY)
                canonical = conf.normalize(
                    element,
                    raw,
                    problems,
                    settings=self.settings,
                    api_key_field=element.api_key_field,
                )
                if self.webhooks is not None:
                    self.webhooks.prepare(element.key, canonical)
                change = self._with_config(change, canonical, element.api_key_field)
            await self._save(conn, row, change)
            return await self._row(conn, principal, instance_id), revealed

        row, revealed = await db.write(self.engine, change)
        await self._sync_webhooks(row)
        return self._view(row, revealed)

    async def replace(
        self, principal: tenants.Principal, instance_id: int, given: InstanceInput
    ) -> views.Instance:
        """Replace name, tags and configuration; a new ``code`` re-authenticates the instance."""
        async with db.reading(self.engine) as conn:
            current = await self._row(conn, principal, instance_id)
        if given.element_key != current.element_key:
            raise InputError(
                problems=[("element.key", f"the instance is of element {current.element_key!r}")]
            )
        element = self._element(given.element_key)
        key_field = element.api_key_field
        raw, problems = conf.merge(
            self._stored(current), given.configuration, replace=True, api_key_field=key_field
        )
        revealed = [conf.SIGNATURE_KEY] if conf.with_signature_key(raw) else []
        canonical = conf.normalize(
            element,
            raw,
            problems,
            settings=self.settings,
            code=given.code,
            api_key_field=key_field,
        )
        if self.webhooks is not None:
            self.webhooks.prepare(element.key, canonical)
        granted = None
        if given.code and key_field is None:
            granted = await self._exchange(element, canonical, given.code)

        async def change(conn: AsyncConnection) -> instances.Instance:
            row = await self._row(conn, principal, instance_id, for_update=True)
            change = self._with_config(
                instances.Change(name=given.name, tags=list(given.tags)), canonical, key_field
            )
            if key_field is not None:  # a new key is a new chance
                change = dataclasses.replace(change, valid=True, invalid_reason=None)
            if granted is not None:
                change = dataclasses.replace(
                    change,
                    provider_tokens=self._seal_tokens(granted),
                    token_expires_at=granted.expires_at,
                    valid=True,
                    invalid_reason=None,
                )
            await self._save(conn, row, change)
            return await self._row(conn, principal, instance_id)

        row = await db.write(self.engine, change)
        await self._sync_webhooks(row)
        return self._view(row, revealed)

    async def set_enabled(
        self, principal: tenants.Principal, instance_id: int, enabled: bool
    ) -> views.Instance:
        """Enable or disable an instance (a disabled one neither polls nor serves hub calls)."""

        async def change(conn: AsyncConnection) -> instances.Instance:
            row = await self._row(conn, principal, instance_id, for_update=True)
            await self._save(conn, row, instances.Change(disabled=not enabled))
            return await self._row(conn, principal, instance_id)

        row = await db.write(self.engine, change)
        await self._sync_webhooks(row)
        return self._view(row)

    async def delete(self, principal: tenants.Principal, instance_id: int) -> None:
        """Delete an instance with its pollers, events and deliveries (and its webhooks at
        a provider where Headwater registered them)."""
        if self.webhooks is not None:
            async with db.reading(self.engine) as conn:
                found = await self._row(conn, principal, instance_id)
            await self.webhooks.sync_quietly(found, deleting=True)

        async def remove(conn: AsyncConnection) -> None:
            await self._row(conn, principal, instance_id)
            # FOR UPDATE, the one lock that keeps out the inserts beneath the instance
            await instances.lock(conn, instance_id, for_delete=True)
            await instances.delete(conn, instance_id)

        await db.write(self.engine, remove)

    # helpers

    async def _sync_webhooks(self, row: instances.Instance) -> None:
        if self.webhooks is not None:
            await self.webhooks.sync(row)

    def _view(self, row: instances.Instance, revealed: Sequence[str] = ()) -> views.Instance:
        shown = views.instance(row, self.box, revealed)
        try:
            element = self.registry.get(row.element_key)
        except NotFoundError:  # an element no longer served: its instances still show
            return shown
        return dataclasses.replace(shown, element_id=element.id, element_name=element.name)

    def _element(self, key: str) -> element.Element:
        try:
            return self.registry.get(key)
        except NotFoundError:
            known = ", ".join(e.key for e in self.registry.all())
            raise InputError(
                problems=[("element.key", f"unknown element {key!r} (known: {known})")]
            ) from None

    async def _exchange(
        self, of: element.Element, canonical: Mapping[str, Any], code: str
    ) -> base.Grant:
        return await of.exchange_code(
            self.http,
            code=code,
            client_id=str(canonical["oauth.api.key"]),
            client_secret=str(canonical["oauth.api.secret"]),
            redirect_uri=str(canonical["oauth.callback.url"]),
        )

    def _seal_tokens(self, granted: base.Grant) -> str:
        # what the element found of the account (its own API host) is kept with the tokens
        sealed: dict[str, Any] = {
            "access_token": granted.access_token,
            "refresh_token": granted.refresh_token,
        }
        if granted.account:
            sealed["account"] = dict(granted.account)
        return self.box.seal(sealed)

    def _with_config(
        self, change: instances.Change, canonical: Mapping[str, Any], api_key_field: str | None
    ) -> instances.Change:
        plain, secret = conf.split(canonical, api_key_field)
        return dataclasses.replace(
            change,
            configuration=plain,
            secrets=self.box.seal(secret),
            events_enabled=instance_config.InstanceConfig.read(plain).events_enabled,
        )

    async def _save(
        self, conn: AsyncConnection, row: instances.Instance, change: instances.Change
    ) -> None:
        now = _now()
        if change.secrets is not instances.KEEP and row.previous_signature_key is not None:
            before = self.box.open(row.secrets).get(conf.SIGNATURE_KEY)
            if self.box.open(change.secrets).get(conf.SIGNATURE_KEY) != before:
                # a key set by hand replaces the current one at once: a rotation's previous
                # key (see instances.signature_keys) stops signing with it
                change = dataclasses.replace(
                    change, previous_signature_key=None, signature_overlap_until=None
                )
        await instances.update(conn, row.id, dataclasses.replace(change, updated_at=now))
        plain = (
            row.configuration if change.configuration is instances.KEEP else change.configuration
        )
        disabled = row.disabled if change.disabled is instances.KEEP else change.disabled
        valid = row.valid if change.valid is instances.KEEP else change.valid
        active = pollers.active(
            instance_config.InstanceConfig.read(plain), valid=valid, disabled=disabled
        )
        await pollers.sync(
            conn,
            row.id,
            plain,
            active=active,
            now=now,
            overlap_seconds=self.settings.poll_overlap_seconds,
        )

    def _stored(self, row: instances.Instance) -> dict[str, Any]:
        """The full stored configuration, secrets decrypted."""
        return {**row.configuration, **self.box.open(row.secrets)}

    async def _row(
        self,
        conn: AsyncConnection,
        principal: tenants.Principal,
        instance_id: int,
        *,
        for_update: bool = False,
    ) -> instances.Instance:
        row = await instances.get(
            conn, instance_id, organization_id=principal.organization_id, for_update=for_update
        )
        if row is None:
            raise NotFoundError(f"No instance with id {instance_id}.")
        return row
