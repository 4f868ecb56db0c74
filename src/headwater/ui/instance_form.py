"""The create-instance form: its fields, read from a post, turned into a configuration, and the
API's problems placed next to the fields they concern.

Field names are the configuration keys themselves (``oauth.api.key`` …); each polled resource is
a row of three fields, ``resource-<n>-name``, ``resource-<n>-poll`` and ``resource-<n>-config``
(its JSON), so a row can be copied to poll another resource.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import Any

from headwater.elements import element

KEYS = (
    "oauth.api.key",
    "oauth.api.secret",
    "oauth.callback.url",
    "event.notification.enabled",
    "event.vendor.type",
    "event.poller.refresh_interval",
    "event.notification.callback.url",
)
POLLER_KEY = "event.poller.configuration"
NAME_LIMIT = 200
FORM = "form"
"""Where a problem that concerns no one field is shown."""


@dataclasses.dataclass
class Resource:
    """One row of the resources to poll."""

    name: str
    poll: bool
    config: str


@dataclasses.dataclass
class InstanceForm:
    """What the user typed (or the defaults), and the problems found, by field name."""

    element_key: str
    values: dict[str, str]
    resources: list[Resource]
    errors: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    @classmethod
    def initial(cls, of: element.Element, callback_url: str) -> InstanceForm:
        """The form of ``of`` with its defaults: its own poller configuration, every resource
        ticked, the first event method, and Headwater's own OAuth callback page."""
        methods = sorted(of.event_methods)
        values = {
            "name": f"{of.name} instance",
            "oauth.api.key": "",
            "oauth.api.secret": "",
            "oauth.callback.url": callback_url,
            "event.notification.enabled": "true",
            "event.vendor.type": "polling" if "polling" in methods else (methods or [""])[0],
            "event.poller.refresh_interval": str(of.declaration.events.default_refresh_interval),
            "event.notification.callback.url": "",
        }
        resources = [
            Resource(name, True, json.dumps(config, indent=2))
            for name, config in of.poller_defaults().items()
        ]
        return cls(of.key, values, resources)

    @classmethod
    def read(cls, element_key: str, fields: dict[str, list[str]]) -> InstanceForm:
        """The form as posted."""

        def one(name: str) -> str:
            values = fields.get(name)
            return values[0] if values else ""

        values = {key: one(key) for key in ("name", *KEYS)}
        values["event.notification.enabled"] = (
            "true" if one("event.notification.enabled") else "false"
        )
        rows: list[Resource] = []
        index = 0
        while f"resource-{index}-config" in fields or f"resource-{index}-name" in fields:
            prefix = f"resource-{index}-"
            rows.append(
                Resource(
                    one(prefix + "name").strip(), bool(one(prefix + "poll")), one(prefix + "config")
                )
            )
            index += 1
        return cls(element_key, values, rows)

    def copy_resource(self, index: int) -> None:
        """Add a row with the configuration of row ``index``, to poll another resource."""
        if 0 <= index < len(self.resources):
            source = self.resources[index]
            self.resources.append(Resource("", True, source.config))

    def problem(self, field: str, text: str) -> None:
        self.errors.setdefault(field, []).append(text)

    @property
    def name(self) -> str:
        return self.values.get("name", "").strip()

    def configuration(self) -> dict[str, Any]:
        """The configuration the form describes; problems of the form itself are recorded (a
        resource's JSON that does not parse, a name missing or given twice)."""
        if not self.name:
            self.problem("name", "required: a name for the instance")
        elif len(self.name) > NAME_LIMIT or "\x00" in self.name:
            self.problem("name", f"at most {NAME_LIMIT} characters, none of them NUL")
        configuration: dict[str, Any] = {
            key: value.strip() for key, value in self.values.items() if key in KEYS
        }
        configuration["event.notification.enabled"] = self.values.get(
            "event.notification.enabled", "false"
        )
        for key in ("event.notification.callback.url", "event.poller.refresh_interval"):
            if not configuration.get(key):
                configuration.pop(key, None)
        polled: dict[str, Any] = {}
        for index, row in enumerate(self.resources):
            if not row.poll:
                continue
            field = f"resource-{index}-config"
            if not row.name:
                self.problem(f"resource-{index}-name", "required: the resource's name")
                continue
            if row.name in polled:
                self.problem(f"resource-{index}-name", f"{row.name!r} is already polled above")
                continue
            try:
                polled[row.name] = json.loads(row.config)
            except json.JSONDecodeError as error:
                self.problem(field, f"not valid JSON: {error.msg} at line {error.lineno}")
        if configuration.get("event.vendor.type") == "polling":
            configuration[POLLER_KEY] = polled
        return configuration

    def place(self, problems: Iterable[tuple[str, str]]) -> None:
        """Put each of the API's (field, problem) pairs next to the field it concerns."""
        for field, text in problems:
            self.problem(*self._where(field, text))

    def _where(self, field: str, text: str) -> tuple[str, str]:
        key = field.removeprefix("configuration.")
        if key in ("name", *KEYS):
            return key, text
        if key.startswith(POLLER_KEY + "."):
            rest = key[len(POLLER_KEY) + 1 :]
            for index, row in _longest_first(self.resources):
                if rest == row.name or rest.startswith(row.name + "."):
                    inner = rest[len(row.name) + 1 :]
                    return f"resource-{index}-config", f"{inner}: {text}" if inner else text
        if key == POLLER_KEY:
            return "resources", text
        if field == "providerData.code":
            return FORM, "the provider gave no authorization code; approve again"
        return FORM, f"{field}: {text}" if field else text

    def errors_for(self, field: str) -> list[str]:
        return self.errors.get(field, [])

    def dump(self) -> dict[str, Any]:
        """The form as plain data (kept sealed during the OAuth round trip)."""
        return {
            "element": self.element_key,
            "values": self.values,
            "resources": [dataclasses.asdict(row) for row in self.resources],
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> InstanceForm:
        rows = [
            Resource(str(r["name"]), bool(r["poll"]), str(r["config"])) for r in data["resources"]
        ]
        return cls(str(data["element"]), {k: str(v) for k, v in data["values"].items()}, rows)


def _longest_first(rows: Sequence[Resource]) -> list[tuple[int, Resource]]:
    """Rows by name length, longest first, so that ``a.b`` wins over ``a`` for ``a.b.url``."""
    return sorted(enumerate(rows), key=lambda pair: -len(pair[1].name))
