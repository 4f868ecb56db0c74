"""Keeping an instance's webhooks registered at its provider, for elements whose API can.

An instance that takes webhook events (events on, ``event.vendor.type: webhooks``, enabled and
valid) has its callback URL registered on every item the element declares (Mailchimp: every
audience); any other has it removed, as has a deleted one. The URL is
``HEADWATER_PUBLIC_URL/elements/api-v2/events/<key>/<base64 id>``, with the instance's
``event.vendor.signature.key`` as ``?secret=`` for elements verified by a secret in the URL.
"""

from __future__ import annotations

import logging
import urllib.parse

from headwater.domain import inbound, inbound_checks, instance_config, signing
from headwater.elements import registry as registry_module
from headwater.errors import InputError, NotFoundError, ProviderError
from headwater.instances import connections as connections_module
from headwater.settings import Settings
from headwater.storage import instances, secrets

log = logging.getLogger(__name__)

API_PATH = "/elements/api-v2"
VENDOR_KEY = "event.vendor.signature.key"


class WebhookRegistrar:
    """Registers and removes instances' webhooks through their provider's API."""

    def __init__(
        self,
        *,
        settings: Settings,
        secrets: secrets.SecretBox,
        registry: registry_module.Registry,
        connections: connections_module.Connections,
    ) -> None:
        self.settings = settings
        self.box = secrets
        self.registry = registry
        self.connections = connections

    def registers(self, element_key: str) -> bool:
        """Whether the element's webhooks are registered by Headwater (not by the user)."""
        try:
            found = self.registry.get(element_key).declaration.events.webhooks
        except NotFoundError:
            return False
        return found is not None and found.registration is not None

    def prepare(self, element_key: str, canonical: dict[str, object]) -> None:
        """Before a configuration is stored: refuse a webhooks instance that could not be
        registered, and give one verified by a secret in its URL that secret."""
        if not self.registers(element_key):
            return
        wants = instance_config.InstanceConfig.read(canonical).receives_webhooks
        spec = self.registry.get(element_key).webhooks
        secret_in_url = spec is not None and spec.verification == "urlSecret"
        if wants and secret_in_url and not canonical.get(VENDOR_KEY):
            canonical[VENDOR_KEY] = signing.generate_key()
        if wants and not self.settings.public_url:
            raise InputError(
                problems=[
                    (
                        "configuration.event.vendor.type",
                        "Headwater registers this element's webhooks itself, at a URL the "
                        "provider can reach: set HEADWATER_PUBLIC_URL on the server",
                    )
                ]
            )

    def callback_url(self, instance: instances.Instance) -> str:
        """Where the provider sends the instance's webhooks."""
        base = (self.settings.public_url or "").rstrip("/")
        url = f"{base}{API_PATH}/events/{instance.element_key}/"
        url += inbound.encode_instance(instance.id)
        spec = self.registry.get(instance.element_key).webhooks
        if spec is not None and spec.verification == "urlSecret":
            key = self.box.open(instance.secrets).get(VENDOR_KEY)
            query = urllib.parse.urlencode({inbound_checks.SECRET_PARAM: str(key or "")})
            url += "?" + query
        return url

    async def sync_quietly(self, instance: instances.Instance, *, deleting: bool) -> None:
        """:meth:`sync`, logging a provider's failure instead of raising it (a deletion goes
        on whatever the provider says)."""
        try:
            await self.sync(instance, deleting=deleting)
        except ProviderError as error:
            log.warning(
                "instance %d: its webhooks could not be removed at the provider: %s",
                instance.id,
                error.message,
            )

    async def sync(self, instance: instances.Instance, *, deleting: bool = False) -> int:
        """Register or remove the instance's webhooks as its state says; how many changed.

        Raises the provider's errors (``ProviderRefusal`` when it refused the URL)."""
        if not self.registers(instance.element_key) or not self.settings.public_url:
            return 0
        element = self.registry.get(instance.element_key)
        found = element.webhook_registrations(self.connections.connection(instance))
        if found is None:
            return 0
        url = self.callback_url(instance)
        wanted = (
            not deleting
            and instance.config.receives_webhooks
            and instance.valid
            and not instance.disabled
        )
        if wanted:
            return await found.ensure(url)
        return await found.remove(url)
