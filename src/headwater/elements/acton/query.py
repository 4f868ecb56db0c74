"""A contact listing's query: the CEQL ``where`` subset and ``fields``, and Act-On rows as records.

Date conditions (``modafter``, ``modbefore``, ``createdafter``, ``createdbefore`` ``= '<epoch
ms>'``) go to Act-On; ``=`` on a column is applied after download; ``fields`` picks columns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from headwater import errors
from headwater.domain import ceql
from headwater.elements import hub_tokens

CONTACT_ID = "_contact_id_"
CREATED = "__created_date"
MODIFIED = "__modified_date"
DATE_COLUMNS = (CREATED, MODIFIED)
READ_ONLY = frozenset({CONTACT_ID, *DATE_COLUMNS})  # dropped from a written contact
_DATE_ALIASES = {"created_date": CREATED, "modified_date": MODIFIED}
DATE_FILTERS = ("modafter", "modbefore", "createdafter", "createdbefore")
SUPPORTED = (
    "Act-On contacts can be filtered by modafter, modbefore, createdafter or createdbefore = "
    "'<epoch ms>' and by <column> = '<value>', joined by AND (no OR, NOT, IN, LIKE, IS NULL, "
    "parentheses or other operators)"
)


@dataclasses.dataclass(frozen=True)
class ContactQuery:
    """A contact listing's ``where`` and ``fields``, translated for Act-On."""

    dates: Mapping[str, int]  # modafter, …: epoch ms, sent to Act-On
    equals: tuple[tuple[str, str], ...]  # (column, value), applied after download
    fields: tuple[str, ...] | None  # what the caller wants back; None: every column

    @classmethod
    def parse(cls, where: str | None, fields: str | None) -> ContactQuery:
        """Raises ``InputError`` naming ``where`` or ``fields`` and what is wrong with it."""
        dates: dict[str, int] = {}
        equals: list[tuple[str, str]] = []
        for condition in ceql.parse(where) if where and where.strip() else []:
            if not isinstance(condition, ceql.Condition):
                raise _problem(
                    "where",
                    f"{ceql.describe(condition)} at position {condition.position} is not "
                    f"supported on Act-On contacts: {SUPPORTED}",
                )
            name, op, value = condition.field, condition.op, str(condition.value)
            if op != "=":
                raise _problem(
                    "where",
                    f"operator '{op}' is not supported on '{name}'; use =. {SUPPORTED}",
                )
            if name.lower() in DATE_FILTERS:
                if not value.strip().isdigit():
                    raise _problem("where", f"{name} takes epoch milliseconds, not '{value}'")
                key = name.lower()
                ms = int(value)
                # the stricter bound wins when one is given twice
                keep = max if key.endswith("after") else min
                dates[key] = keep(dates[key], ms) if key in dates else ms
            else:
                equals.append((name, value))
        wanted: tuple[str, ...] | None = None
        if fields is not None:
            wanted = tuple(f.strip() for f in fields.replace(";", ",").split(",") if f.strip())
            if not wanted:
                raise _problem("fields", "names no column")
        return cls(dates=dates, equals=tuple(equals), fields=wanted)

    def download_options(self) -> tuple[tuple[str, ...] | None, bool]:
        """Act-On's ``fields`` and ``datequalifiers`` (it refuses both at once)."""
        if self.fields is None or any(f in DATE_COLUMNS for f in self.fields):
            return None, True
        columns = [f for f in self.fields if f != CONTACT_ID]
        columns += [c for c, _ in self.equals if c not in columns and c != CONTACT_ID]
        return tuple(columns or [CONTACT_ID]), False

    def check_columns(self, list_id: str, headers: list[str]) -> None:
        known = set(headers) | set(DATE_COLUMNS) | {CONTACT_ID}
        for column, _ in self.equals:
            if column not in known:
                raise _problem("where", f"list {list_id} has no column '{column}'")
        for column in self.fields or ():
            if column not in known:
                raise _problem("fields", f"list {list_id} has no column '{column}'")

    def select(self, record: dict[str, object]) -> dict[str, object] | None:
        """The record as the caller asked for it, or None when a column filter drops it."""
        if any(str(record.get(column, "")) != value for column, value in self.equals):
            return None
        if self.fields is None:
            return record
        return {f: record[f] for f in self.fields if f in record}

    def fingerprint(self, list_id: str) -> str:
        return hub_tokens.fingerprint(
            list_id, sorted(self.dates.items()), list(self.equals), self.fields
        )


def contact_record(headers: list[str], row: list[str]) -> dict[str, object]:
    """An Act-On row as a hub contact: keyed by heading, with integer dates."""
    record: dict[str, object] = {}
    for heading, cell in zip(headers, row, strict=False):
        name = _DATE_ALIASES.get(heading, heading)
        if name in DATE_COLUMNS:
            record[name] = int(cell) if cell.strip().lstrip("-").isdigit() else cell
        else:
            record[name] = cell
    return record


def _problem(field: str, problem: str) -> errors.InputError:
    return errors.InputError(problems=[(field, problem)])
