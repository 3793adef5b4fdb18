"""A minimal coding harness instrumented with the official OpenTelemetry Python SDK.

It plays one coding session against a scripted fake model (../scenario.json) and reports it with
the acd-collector span contract (docs/semantic-conventions.md): a session span, one chat span per
model call with its token usage, execute_tool spans, `acd.retry` events for failed attempts, and
an `acd.test_run` span.

    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 python harness.py [SESSION_ID]

Environment:
    OTEL_EXPORTER_OTLP_ENDPOINT  collector address (the SDK's own variable; default localhost:4318)
    OTEL_EXPORTER_OTLP_PROTOCOL  http/protobuf (default) or grpc (then use port 4317)
    ACD_SESSION_ID               session id, when not given as the argument (default: a new UUID)
    ACD_SCENARIO                 another scenario file (default ../scenario.json)

Exits 0 only when every export call succeeded and every span was exported.
"""

import json
import logging
import os
import sys
import time
import uuid
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode

# --- Export: the SDK's OTLP exporter, wrapped so the harness knows whether its data arrived ---


def otlp_exporter():
    """The exporter for OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL; it reads the endpoint from the env."""
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    raise SystemExit(f"unsupported OTEL_EXPORTER_OTLP_PROTOCOL {protocol!r}")


class RecordingExporter(SpanExporter):
    """Delegates to the OTLP exporter and keeps its verdicts: the batch processor only logs them,
    so without this a harness could not tell that its session was lost."""

    def __init__(self, inner):
        self.inner = inner
        self.calls = 0
        self.exported = 0
        self.failures = 0

    def export(self, spans):
        self.calls += 1
        result = self.inner.export(spans)
        if result is SpanExportResult.SUCCESS:
            self.exported += len(spans)
        else:
            self.failures += 1
        return result

    def force_flush(self, timeout_millis=30_000):
        return self.inner.force_flush(timeout_millis)

    def shutdown(self):
        self.inner.shutdown()


# --- The fake model: replays the scenario with real clocks ---


def fake_model_call(turn):
    """One model call: waits for the scripted first token and the rest of the answer."""
    started = time.perf_counter()
    time.sleep(turn["first_token_ms"] / 1000)
    first_chunk_at = time.perf_counter()
    time.sleep(max(0, turn["latency_ms"] - turn["first_token_ms"]) / 1000)
    return turn["usage"], first_chunk_at - started


# --- The harness: what a real one does around its model and tool calls ---


def run_session(tracer, scenario, session_id):
    """Plays the scenario; returns the number of spans it made."""
    spans = 1
    session = tracer.start_span(
        f"invoke_agent {scenario['target']['name']}",
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": scenario["provider"],
            "gen_ai.conversation.id": session_id,
            "acd.target.id": scenario["target"]["id"],
            "acd.target.name": scenario["target"]["name"],
            "acd.feature.id": scenario["feature_id"],
        },
    )
    in_session = trace.set_span_in_context(session)

    for number, turn in enumerate(scenario["turns"], start=1):
        chat = tracer.start_span(
            f"chat {turn['model']}",
            context=in_session,
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": scenario["provider"],
                "gen_ai.request.model": turn["model"],
                "gen_ai.conversation.id": session_id,
                "acd.turn.number": number,
            },
        )
        spans += 1
        # Each failed attempt is an event on the call it delayed; the span covers every attempt.
        for attempt, retry in enumerate(turn.get("retries", []), start=1):
            event = {
                "acd.retry.number": attempt,
                "acd.retry.reason": retry["reason"],
                "acd.retry.wait_ms": retry["wait_ms"],
                "acd.retry.original_model": retry["original_model"],
                "acd.retry.succeeded": retry["succeeded"],
                "error.type": retry["error_type"],
                "exception.message": retry["message"],
                "http.response.status_code": retry["status_code"],
            }
            if retry.get("fallback_model"):
                event["acd.retry.fallback_model"] = retry["fallback_model"]
            chat.add_event("acd.retry", attributes=event)
            time.sleep(retry["wait_ms"] / 1000)
        usage, ttft_s = fake_model_call(turn)
        chat.set_attributes(
            {
                "gen_ai.response.model": turn["model"],
                # Semconv: input_tokens includes the cached tokens; the collector stores input
                # uncached.
                "gen_ai.usage.input_tokens": usage["input_tokens"],
                "gen_ai.usage.output_tokens": usage["output_tokens"],
                "gen_ai.usage.cache_read.input_tokens": usage["cache_read_tokens"],
                "gen_ai.usage.cache_creation.input_tokens": usage["cache_creation_tokens"],
                "gen_ai.response.time_to_first_chunk": ttft_s,
            }
        )
        # Optional: how the prompt filled the context window (segments in tokens, and the
        # model's window), as the acd.context.* attributes.
        context = turn.get("context")
        if context:
            chat.set_attributes(
                {
                    "acd.context.system_tokens": context["system_tokens"],
                    "acd.context.feature_tokens": context["feature_tokens"],
                    "acd.context.file_tokens": context["file_tokens"],
                    "acd.context.conversation_tokens": context["conversation_tokens"],
                    "acd.context.limit": context["limit"],
                }
            )
        chat.end()

        # The tools the answer asked for run after the call: children of its span (that is how
        # the collector attaches them to the turn), outside its time so the turn measures the
        # model only.
        in_turn = trace.set_span_in_context(chat)
        for call in turn.get("tools", []):
            attributes = {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": call["name"],
                "gen_ai.conversation.id": session_id,
            }
            if call.get("file_path"):
                attributes["acd.tool.file_path"] = call["file_path"]
            with tracer.start_as_current_span(
                f"execute_tool {call['name']}", context=in_turn, attributes=attributes
            ):
                spans += 1
                time.sleep(call["duration_ms"] / 1000)

    spans += report_test_run(tracer, scenario["test_run"], session_id, in_session)
    session.set_attribute("acd.session.features_completed", scenario["features_completed"])
    session.set_status(Status(StatusCode.OK))
    session.end()
    return spans


def report_test_run(tracer, run, session_id, parent):
    """The project's test suite as one span, with an event per test case. Returns the span count."""
    cases = run["cases"]

    def count(status):
        return sum(1 for c in cases if c["status"] == status)

    span = tracer.start_span(
        "acd.test_run",
        context=parent,
        attributes={
            "gen_ai.conversation.id": session_id,
            "acd.test.suite": run["suite"],
            "acd.test.total": len(cases),
            "acd.test.passed": count("passed"),
            "acd.test.failed": count("failed"),
            "acd.test.skipped": count("skipped"),
        },
    )
    for c in cases:
        time.sleep(c["duration_ms"] / 1000)
        event = {
            "acd.test.case.name": c["name"],
            "acd.test.case.classname": c["classname"],
            "acd.test.case.status": c["status"],
            "acd.test.case.duration_ms": c["duration_ms"],
        }
        if c.get("failure_message"):
            event["acd.test.case.failure_message"] = c["failure_message"]
        span.add_event("acd.test.case", attributes=event)
    if count("failed"):
        span.set_status(Status(StatusCode.ERROR, f"{count('failed')} test(s) failed"))
    span.end()
    return 1


def main():
    args = sys.argv[1:]
    session_id = (args[0] if args else "") or os.environ.get("ACD_SESSION_ID") or str(uuid.uuid4())
    scenario_path = os.environ.get("ACD_SCENARIO") or Path(__file__).parent.parent / "scenario.json"
    scenario = json.loads(Path(scenario_path).read_text(encoding="utf-8"))
    # The exporters report failures through logging: make them visible.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    exporter = RecordingExporter(otlp_exporter())
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"{scenario['service_name']}-python"})
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("acd-example-harness", "1.0.0")
    try:
        spans = run_session(tracer, scenario, session_id)
    finally:
        # Flushes the batch processor and waits for the export: the process must not exit before.
        provider.shutdown()

    print(
        json.dumps(
            {
                "session_id": session_id,
                "spans": spans,
                "exported": exporter.exported,
                "export_calls": exporter.calls,
                "failures": exporter.failures,
            }
        )
    )
    if exporter.failures or exporter.exported != spans:
        print(f"export incomplete: {exporter.exported}/{spans} spans exported", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
