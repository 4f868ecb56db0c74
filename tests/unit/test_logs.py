"""The JSON log format: one object per line, with the ids bound around the work and given in
``extra``."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from typing import Any

import pytest

from headwater import logs


def _record(message: str, *args: object, **extra: Any) -> logging.LogRecord:
    logger = logging.getLogger("headwater.test")
    return logger.makeRecord(
        logger.name, logging.WARNING, __file__, 1, message, args, None, extra=extra
    )


def test_a_line_has_time_level_logger_message_and_extras() -> None:
    line = json.loads(
        logs.JsonFormatter().format(_record("polled %d", 3, instance_id=7, event_ids=(1, 2)))
    )
    assert line["level"] == "WARNING" and line["logger"] == "headwater.test"
    assert line["message"] == "polled 3"
    assert line["time"].endswith("+00:00")
    assert line["instance_id"] == 7 and line["event_ids"] == [1, 2]
    assert "args" not in line and "msg" not in line


def test_bound_ids_reach_every_line_inside_and_none_outside() -> None:
    with logs.bound(request_id="req_1"), logs.bound(instance_id=4):
        inside = json.loads(logs.JsonFormatter().format(_record("x")))
    outside = json.loads(logs.JsonFormatter().format(_record("x")))
    assert (inside["request_id"], inside["instance_id"]) == ("req_1", 4)
    assert "request_id" not in outside and "instance_id" not in outside


def test_a_task_started_with_a_context_carries_its_ids() -> None:
    async def main() -> dict[str, object]:
        async def work() -> dict[str, object]:
            return dict(logs.ids())

        return await asyncio.create_task(work(), context=logs.context(delivery_id=9))

    assert asyncio.run(main()) == {"delivery_id": 9}
    assert dict(logs.ids()) == {}


def test_an_exception_is_one_field_of_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logger = logging.getLogger("headwater.test")
        record = logger.makeRecord(
            logger.name, logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    text = logs.JsonFormatter().format(record)
    assert "\n" not in text
    assert "ValueError: boom" in json.loads(text)["exception"]


def test_configure_routes_every_logger_through_one_handler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        logs.configure(logs.JSON)
        logging.getLogger("uvicorn.access").info("GET / 200")
        logging.getLogger("headwater.x").info("hello %s", "world")
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        assert [line["message"] for line in lines] == ["GET / 200", "hello world"]
        with pytest.raises(ValueError, match="unknown log format"):
            logs.configure("yaml")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
