"""Traces (OpenTelemetry): one trace follows a change from the poll that found it to each
delivery attempt of its notification.

Only with the ``otel`` extra installed (``pip install 'headwater[otel]'``) and the standard
``OTEL_*`` variables asking for traces (``OTEL_TRACES_EXPORTER`` or an OTLP endpoint); otherwise
every function here does nothing and no OpenTelemetry module is imported. The poll's trace
context travels in the delivery row (W3C ``traceparent``), so an attempt made later, by another
process, joins the poll's trace.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any

log = logging.getLogger(__name__)

_state: dict[str, Any] = {}  # "tracer": the tracer once configured


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether the ``OTEL_*`` variables ask for traces."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return bool(exporter) or any(environ.get(name, "").strip() for name in endpoints)


def configure(environ: Mapping[str, str] | None = None) -> bool:
    """Start exporting traces when the ``OTEL_*`` variables ask for them and the extra is
    installed; True when traces are on. Call once, at process start."""
    env = os.environ if environ is None else environ
    if not wanted(env):
        return False
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider, export
    except ImportError:
        log.warning(
            "OTEL_* variables ask for traces but the otel extra is not installed; "
            "pip install 'headwater[otel]'"
        )
        return False
    provider = TracerProvider(
        resource=Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", "headwater")})
    )
    for name in env.get("OTEL_TRACES_EXPORTER", "otlp").split(","):
        provider.add_span_processor(export.BatchSpanProcessor(_exporter(name.strip().lower())))
    install(provider)
    return True


def _exporter(name: str) -> Any:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != "otlp":
        log.warning("OTEL_TRACES_EXPORTER=%s is not known here; using otlp", name)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # its endpoint and headers come from the OTEL_* variables


def install(provider: Any) -> None:
    """Trace through ``provider`` (an SDK ``TracerProvider``; tests give one with an in-memory
    exporter); None turns traces off."""
    if provider is None:
        _state.pop("tracer", None)
    else:
        _state["tracer"] = provider.get_tracer("headwater")


class Span:
    """What a block can add to its span (nothing when traces are off)."""

    def __init__(self, span: Any = None) -> None:
        self._span = span

    def set(self, key: str, value: str | int | float | bool) -> None:
        """Set an attribute of the span."""
        if self._span is not None:
            self._span.set_attribute(key, value)


@contextlib.contextmanager
def span(
    name: str, *, parent: str | None = None, attributes: Mapping[str, Any] | None = None
) -> Iterator[Span]:
    """A span around the block, the child of the current span, or of ``parent`` (a
    ``traceparent`` kept with the work) when given; nothing when traces are off."""
    tracer = _state.get("tracer")
    if tracer is None:
        yield Span()
        return
    context = None
    if parent:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        context = TraceContextTextMapPropagator().extract({"traceparent": parent})
    with tracer.start_as_current_span(
        name, context=context, attributes=dict(attributes or {})
    ) as current:
        yield Span(current)


def traceparent() -> str | None:
    """The current span's context as a W3C ``traceparent``, to keep with work done later; None
    when traces are off or no span is current."""
    if "tracer" not in _state:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent")
