"""Traces: one trace follows a change from the poll that found it to each delivery attempt of
its notification (the SDK's in-memory exporter); without OTEL_* variables, or without the otel
extra, nothing is traced and nothing of OpenTelemetry is imported."""

from __future__ import annotations

import subprocess
import sys

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from headwater import tracing
from tests.api_fixtures import RunningApi
from tests.sandbox_fixtures import Receiver
from tests.trace_support import wait_for_spans


@pytest.mark.api(loops=True, tick_seconds=0.05, retry_schedule=(0.1, 0.2))
@pytest.mark.receiver(fail="500,ok")
async def test_a_change_is_one_trace_from_its_poll_to_each_attempt(
    api: RunningApi, receiver: Receiver, spans: InMemorySpanExporter
) -> None:
    auth = await api.create_user()
    created = await api.create_instance(
        {
            "event.notification.callback.url": receiver.url,
            "event.notification.signature.key": receiver.secret,
        },
        auth=auth,
    )
    await wait_for_spans(spans, "headwater.poll", 1)  # the first poll starts the cursor
    api.sandbox.admin("PATCH", "/contacts/l-0001:1", {"values": {"Job Title": "CTO"}})
    reply = await api.call("POST", f"instances/{created['id']}/pollers/contacts/run", auth=auth)
    assert reply.status == 202, reply.text
    await receiver.wait_for(lambda a: len(a) >= 2)  # refused once (500), then delivered
    attempts = await wait_for_spans(spans, "headwater.delivery.attempt", 2)
    polls = {s.context.span_id: s for s in spans.get_finished_spans() if s.name == "headwater.poll"}
    assert [a.attributes["headwater.attempt"] for a in attempts] == [1, 2]
    assert [a.attributes["headwater.outcome"] for a in attempts] == ["retry", "delivered"]
    assert [a.attributes["http.response.status_code"] for a in attempts] == [500, 200]
    assert (
        attempts[0].attributes["headwater.notification_id"]
        == (attempts[1].attributes["headwater.notification_id"])
    )
    # both attempts are children of the poll that found the change, in its trace
    assert attempts[0].parent is not None and attempts[1].parent is not None
    poll = polls[attempts[0].parent.span_id]
    assert attempts[1].parent.span_id == poll.context.span_id
    assert {a.context.trace_id for a in attempts} == {poll.context.trace_id}
    assert poll.attributes["headwater.instance_id"] == created["id"]
    assert poll.attributes["headwater.resource"] == "contacts"
    # the first poll found nothing to send: it has a trace of its own
    assert len({s.context.trace_id for s in polls.values()}) == len(polls) >= 2


_IMPORTS = (
    "import sys; from headwater import runtime, tracing; "
    "from headwater.delivery import dispatch; from headwater.poller import service; "
)


def _python(code: str, **environ: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=60
    )


def test_without_otel_variables_nothing_is_imported() -> None:
    done = _python(
        _IMPORTS + "print(tracing.configure()); "
        "s = tracing.span('x'); s.__enter__().set('k', 1); s.__exit__(None, None, None); "
        "print(tracing.traceparent()); "
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["False", "None", "[]"]


def test_without_the_extra_the_variables_only_warn() -> None:
    blocker = (
        "import importlib.abc\n"
        "class Missing(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] == 'opentelemetry': raise ImportError(name)\n"
        "sys.meta_path.insert(0, Missing())\n"
    )
    done = _python(
        "import sys, logging; logging.basicConfig()\n"
        + blocker
        + _IMPORTS
        + "print(tracing.configure()); print(tracing.traceparent())",
        OTEL_TRACES_EXPORTER="console",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["False", "None"]
    assert "otel extra is not installed" in done.stderr


def test_otel_variables_choose_the_exporter() -> None:
    done = _python(
        "from headwater import tracing\n"
        "print(tracing.configure())\n"
        "with tracing.span('headwater.poll', attributes={'headwater.resource': 'contacts'}):\n"
        "    print(tracing.traceparent())\n",
        OTEL_TRACES_EXPORTER="console",
        OTEL_SERVICE_NAME="headwater-test",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("\n")
    assert lines[0] == "True" and lines[1].startswith("00-"), done.stdout
    assert '"name": "headwater.poll"' in done.stdout  # exported at exit, by the console exporter
    assert "headwater-test" in done.stdout
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert not tracing.wanted({"OTEL_TRACES_EXPORTER": "none"})
    assert not tracing.wanted({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"})
