"""Reading one provider record as a poller sees it: its id, its dates and its version."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from headwater.domain import changes, config, dates, paths
from headwater.errors import HeadwaterError


class RecordError(HeadwaterError):
    """A record's id or date cannot be read; the poll fails naming the record."""


@dataclasses.dataclass(frozen=True)
class Seen:
    """A record as one poll saw it.

    ``date`` is the date the poller filters and orders by: the updated date, or the created date
    when ``filterByUpdatedDate`` is false; None when the resource configures neither. A date
    field that is null or an empty string is no date (None), not an error.
    """

    object_id: str
    date: dt.datetime | None
    created: dt.datetime | None
    updated: dt.datetime | None
    content_hash: str
    record: dict[str, object]

    @property
    def date_ms(self) -> int | None:
        return None if self.date is None else dates.to_ms(self.date)

    def version(self) -> changes.Version:
        return changes.Version(self.date_ms, self.content_hash)


def read(record: object, resource: config.Resource, *, where: str) -> Seen:
    """The record's id, dates and version; RecordError naming the record when one is unreadable.

    ``where`` says where the record was found (page and URL), for records without a usable id.
    """
    if not isinstance(record, Mapping):
        raise RecordError(f"{where}: the record is not a JSON object")
    object_id = read_id(record, resource.id_field, where=where)
    created = _date(
        record, object_id, resource.created_field, resource.created_format, resource.created_tz
    )
    updated = _date(
        record, object_id, resource.updated_field, resource.updated_format, resource.updated_tz
    )
    date = updated if resource.filter_by_updated_date else created
    return Seen(
        object_id=object_id,
        date=date,
        created=created,
        updated=updated,
        content_hash=changes.content_hash(record),
        record=dict(record),
    )


def read_id(record: Mapping[str, object], id_field: str, *, where: str) -> str:
    """The record's id as text; RecordError when it has none usable."""
    try:
        value = paths.get(record, id_field)
    except KeyError:
        raise RecordError(f"{where}: the record has no id field '{id_field}' (idField)") from None
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
        raise RecordError(
            f"{where}: the record's id field '{id_field}' is {value!r}, not a string or a number"
        )
    return str(value)


def no_date(value: object) -> bool:
    """Whether a date field's value says "no date": null, or an empty (or blank) string.

    Providers write an unset date this way (Mailchimp's ``timestamp_opt`` is ``""`` for a member
    who never opted in); it is no date, not an unreadable one, and the record is read without it.
    """
    return value is None or (isinstance(value, str) and not value.strip())


def _date(
    record: Mapping[str, object],
    object_id: str,
    field: str | None,
    fmt: str | None,
    tz: str | None,
) -> dt.datetime | None:
    if field is None:
        return None
    try:
        value = paths.get(record, field)
    except KeyError:
        raise RecordError(f"record {object_id}: it has no date field '{field}'") from None
    if no_date(value):
        return None
    try:
        return dates.parse(value, fmt, tz)
    except ValueError as exc:
        shown = f"format '{fmt}'" if fmt else "ISO-8601 or epoch milliseconds"
        raise RecordError(
            f"record {object_id}: its {field} {value!r} is not a date in {shown}: {exc}"
        ) from None
