"""Spans recorded in memory (OpenTelemetry SDK's exporter) while a test runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from headwater import tracing


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    try:
        yield exporter
    finally:
        tracing.install(None)
        provider.shutdown()


async def wait_for_spans(
    exporter: InMemorySpanExporter, name: str, count: int
) -> list[ReadableSpan]:
    deadline = time.monotonic() + 15
    while True:
        found = [s for s in exporter.get_finished_spans() if s.name == name]
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, [s.name for s in exporter.get_finished_spans()]
        await asyncio.sleep(0.02)
