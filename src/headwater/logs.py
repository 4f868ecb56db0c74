"""The process's log lines: plain text, or one JSON object per line (``HEADWATER_LOG_FORMAT``).

A JSON line holds ``time`` (UTC, ISO-8601), ``level``, ``logger`` and ``message``, then the ids
the line carries, under their own keys: ``request_id``, ``instance_id``, ``resource``,
``poll_id``, ``event_ids``, ``delivery_id``, ``notification_id`` and whatever else a caller
passed in ``extra``, and ``exception`` with the traceback when there is one.

Ids reach a line in two ways: ``extra`` on the logging call (as :class:`PollLog
<headwater.poller.context.PollLog>` passes them), or :func:`bound` around a unit of work (a
request, a delivery), which puts them on every line logged inside it, in whichever module.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import sys
import types
from collections.abc import Iterator, Mapping
from typing import Any

TEXT, JSON = "text", "json"
FORMATS = (TEXT, JSON)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

_BOUND: contextvars.ContextVar[Mapping[str, object]] = contextvars.ContextVar(
    "headwater_log_ids", default=types.MappingProxyType({})
)
# every attribute a LogRecord has of its own; anything else on a record came from ``extra``
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


@contextlib.contextmanager
def bound(**ids: object) -> Iterator[None]:
    """Put ``ids`` on every line logged inside the block (in this task and the tasks it
    starts)."""
    token = _BOUND.set({**_BOUND.get(), **ids})
    try:
        yield
    finally:
        _BOUND.reset(token)


def context(**ids: object) -> contextvars.Context:
    """A copy of the current context with ``ids`` bound: for ``asyncio.create_task(…,
    context=…)``, so that every line of that task carries them."""
    copied = contextvars.copy_context()
    copied.run(_BOUND.set, {**_BOUND.get(), **ids})
    return copied


def ids() -> Mapping[str, object]:
    """The ids bound here."""
    return _BOUND.get()


def _plain(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _BOUND.get().items():
            line[key] = _plain(value)
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = _plain(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False)


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of ``log_format`` (one of :data:`FORMATS`)."""
    if log_format == JSON:
        return JsonFormatter()
    if log_format == TEXT:
        return logging.Formatter(TEXT_FORMAT)
    raise ValueError(f"unknown log format {log_format!r}; expected one of {FORMATS}")


def configure(log_format: str, *, level: int = logging.INFO) -> None:
    """Send every log line (the server's own, uvicorn's, the libraries') to stderr in
    ``log_format``, replacing whatever handlers were set up before."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # uvicorn's loggers keep handlers of their own unless told not to; route them through ours
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = True
        named.setLevel(logging.NOTSET)  # a server started earlier may have quietened it
        named.disabled = False
