"""The credential of an element that authenticates with an API key (``authentication.apiKey``).

The key lives in the instance's configuration (``apiKey.configurationKey``, default
``api.key``), stored encrypted like every secret. :class:`StoredKey` hands it to the declared
hub as a :class:`~headwater.elements.base.TokenSource`: there is nothing to refresh, so a key the
provider refuses makes the instance invalid until its configuration holds a good one.
"""

from __future__ import annotations

from headwater import errors


class StoredKey:
    """A ``TokenSource`` over one instance's API key."""

    def __init__(self, key: str) -> None:
        self._key = key

    async def current(self) -> str:
        """The key; ``ProviderRefusal`` when the instance has none."""
        if not self._key:
            raise errors.ProviderRefusal("The instance holds no API key")
        return self._key

    async def refreshed(self, rejected: str) -> str:
        """Always ``ProviderRefusal``: an API key cannot be refreshed."""
        raise errors.ProviderRefusal(
            "The provider refused the API key; set a valid one in the instance's configuration",
            http_status=401,
        )
