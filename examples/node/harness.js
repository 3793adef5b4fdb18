#!/usr/bin/env node
// A minimal coding harness instrumented with the official OpenTelemetry Node.js SDK
// (@opentelemetry/sdk-node). It plays one coding session against a scripted fake model
// (../scenario.json) and reports it with the acd-collector span contract
// (docs/semantic-conventions.md): a session span, one chat span per model call with its token
// usage, execute_tool spans, `acd.retry` events for failed attempts, and an `acd.test_run` span.
//
//   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 node harness.js [SESSION_ID]
//
// Environment:
//   OTEL_EXPORTER_OTLP_ENDPOINT   the collector (the SDK's own variable; default localhost:4318)
//   OTEL_EXPORTER_OTLP_PROTOCOL   http/protobuf (default), http/json or grpc (then use port 4317)
//   ACD_SESSION_ID                session id, when not given as the argument (default: a new UUID)
//   ACD_SCENARIO                  another scenario file (default ../scenario.json)
//
// Exits 0 only when every export call succeeded and every span was exported.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { randomUUID } = require('node:crypto');
const { setTimeout: sleep } = require('node:timers/promises');

const {
  context,
  diag,
  DiagConsoleLogger,
  DiagLogLevel,
  SpanKind,
  SpanStatusCode,
  trace,
} = require('@opentelemetry/api');
const { NodeSDK, core, resources } = require('@opentelemetry/sdk-node');

// --- Export: the SDK's OTLP exporter, wrapped so the harness knows whether its data arrived ---

/** The exporter for OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL; each reads the endpoint from the env. */
function otlpExporter() {
  const protocol = (
    process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ||
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL ||
    'http/protobuf'
  ).trim();
  switch (protocol) {
    case 'http/protobuf':
      return new (require('@opentelemetry/exporter-trace-otlp-proto').OTLPTraceExporter)();
    case 'http/json':
      return new (require('@opentelemetry/exporter-trace-otlp-http').OTLPTraceExporter)();
    case 'grpc':
      return new (require('@opentelemetry/exporter-trace-otlp-grpc').OTLPTraceExporter)();
    default:
      throw new Error(`unsupported OTEL_EXPORTER_OTLP_PROTOCOL ${JSON.stringify(protocol)}`);
  }
}

/**
 * Passes spans to the OTLP exporter and remembers its verdicts. The batch processor only logs a
 * failed export, so without this a harness could not tell that its session was lost.
 */
class RecordingExporter {
  constructor(inner) {
    this.inner = inner;
    this.exported = 0;
    this.failures = [];
    this.calls = 0;
  }

  export(spans, resultCallback) {
    this.calls += 1;
    this.inner.export(spans, (result) => {
      if (result.code === core.ExportResultCode.SUCCESS) {
        this.exported += spans.length;
      } else {
        this.failures.push(String(result.error ?? 'export failed'));
      }
      resultCallback(result);
    });
  }

  forceFlush() {
    return this.inner.forceFlush ? this.inner.forceFlush() : Promise.resolve();
  }

  shutdown() {
    return this.inner.shutdown();
  }
}

// --- The fake model: replays the scenario with real clocks ---

/** One model call: waits for the scripted first token and the rest of the answer. */
async function fakeModelCall(turn) {
  const started = performance.now();
  await sleep(turn.first_token_ms);
  const firstChunkAt = performance.now();
  await sleep(Math.max(0, turn.latency_ms - turn.first_token_ms));
  return { usage: turn.usage, timeToFirstChunkS: (firstChunkAt - started) / 1000 };
}

// --- The harness: what a real one does around its model and tool calls ---

async function runSession(tracer, scenario, sessionId) {
  let spans = 0;
  const session = tracer.startSpan(`invoke_agent ${scenario.target.name}`, {
    kind: SpanKind.INTERNAL,
    attributes: {
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.provider.name': scenario.provider,
      'gen_ai.conversation.id': sessionId,
      'acd.target.id': scenario.target.id,
      'acd.target.name': scenario.target.name,
      'acd.feature.id': scenario.feature_id,
    },
  });
  spans += 1;
  const inSession = trace.setSpan(context.active(), session);

  for (const [index, turn] of scenario.turns.entries()) {
    const chat = tracer.startSpan(
      `chat ${turn.model}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': scenario.provider,
          'gen_ai.request.model': turn.model,
          'gen_ai.conversation.id': sessionId,
          'acd.turn.number': index + 1,
        },
      },
      inSession,
    );
    spans += 1;
    // Each failed attempt is an event on the call it delayed; the span covers every attempt.
    for (const [attempt, retry] of (turn.retries ?? []).entries()) {
      const event = {
        'acd.retry.number': attempt + 1,
        'acd.retry.reason': retry.reason,
        'acd.retry.wait_ms': retry.wait_ms,
        'acd.retry.original_model': retry.original_model,
        'acd.retry.succeeded': retry.succeeded,
        'error.type': retry.error_type,
        'exception.message': retry.message,
        'http.response.status_code': retry.status_code,
      };
      if (retry.fallback_model) event['acd.retry.fallback_model'] = retry.fallback_model;
      chat.addEvent('acd.retry', event);
      await sleep(retry.wait_ms);
    }
    const answer = await fakeModelCall(turn);
    chat.setAttributes({
      'gen_ai.response.model': turn.model,
      // Semconv: input_tokens includes the cached tokens; the collector stores input uncached.
      'gen_ai.usage.input_tokens': answer.usage.input_tokens,
      'gen_ai.usage.output_tokens': answer.usage.output_tokens,
      'gen_ai.usage.cache_read.input_tokens': answer.usage.cache_read_tokens,
      'gen_ai.usage.cache_creation.input_tokens': answer.usage.cache_creation_tokens,
      'gen_ai.response.time_to_first_chunk': answer.timeToFirstChunkS,
    });
    // Optional: how the prompt filled the context window (segments in tokens, and the model's
    // window), as the acd.context.* attributes.
    if (turn.context) {
      chat.setAttributes({
        'acd.context.system_tokens': turn.context.system_tokens,
        'acd.context.feature_tokens': turn.context.feature_tokens,
        'acd.context.file_tokens': turn.context.file_tokens,
        'acd.context.conversation_tokens': turn.context.conversation_tokens,
        'acd.context.limit': turn.context.limit,
      });
    }
    chat.end();

    // The tools the answer asked for run after the call: children of its span (that is how the
    // collector attaches them to the turn), outside its time so the turn measures the model only.
    const inTurn = trace.setSpan(context.active(), chat);
    for (const call of turn.tools ?? []) {
      const attributes = {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': call.name,
        'gen_ai.conversation.id': sessionId,
      };
      if (call.file_path) attributes['acd.tool.file_path'] = call.file_path;
      const tool = tracer.startSpan(`execute_tool ${call.name}`, { attributes }, inTurn);
      spans += 1;
      await sleep(call.duration_ms);
      tool.end();
    }
  }

  spans += await reportTestRun(tracer, scenario.test_run, sessionId, inSession);
  session.setAttribute('acd.session.features_completed', scenario.features_completed);
  session.setStatus({ code: SpanStatusCode.OK });
  session.end();
  return spans;
}

/** The project's test suite as one span, with an event per test case. Returns the span count. */
async function reportTestRun(tracer, run, sessionId, parent) {
  const count = (status) => run.cases.filter((c) => c.status === status).length;
  const span = tracer.startSpan(
    'acd.test_run',
    {
      attributes: {
        'gen_ai.conversation.id': sessionId,
        'acd.test.suite': run.suite,
        'acd.test.total': run.cases.length,
        'acd.test.passed': count('passed'),
        'acd.test.failed': count('failed'),
        'acd.test.skipped': count('skipped'),
      },
    },
    parent,
  );
  for (const c of run.cases) {
    await sleep(c.duration_ms);
    const event = {
      'acd.test.case.name': c.name,
      'acd.test.case.classname': c.classname,
      'acd.test.case.status': c.status,
      'acd.test.case.duration_ms': c.duration_ms,
    };
    if (c.failure_message) event['acd.test.case.failure_message'] = c.failure_message;
    span.addEvent('acd.test.case', event);
  }
  if (count('failed') > 0) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: `${count('failed')} test(s) failed` });
  }
  span.end();
  return 1;
}

async function main() {
  const sessionId = process.argv[2] || process.env.ACD_SESSION_ID || randomUUID();
  const scenarioPath = process.env.ACD_SCENARIO || path.join(__dirname, '..', 'scenario.json');
  const scenario = JSON.parse(fs.readFileSync(scenarioPath, 'utf8'));
  // Export failures are reported through the SDK's diagnostic logger: make them visible.
  diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);

  const exporter = new RecordingExporter(otlpExporter());
  const sdk = new NodeSDK({
    resource: resources.resourceFromAttributes({ 'service.name': `${scenario.service_name}-node` }),
    traceExporter: exporter,
    // Traces only: without these the SDK would also start OTLP metric and log exporters.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();

  const tracer = trace.getTracer('acd-example-harness', '1.0.0');
  let spans;
  try {
    spans = await runSession(tracer, scenario, sessionId);
  } finally {
    // Flushes the batch processor and waits for the export: the process must not exit before.
    // A failed final export rejects here; it is already in exporter.failures.
    await sdk.shutdown().catch((err) => diag.warn(`SDK shutdown: ${err}`));
  }

  console.log(
    JSON.stringify({
      session_id: sessionId,
      spans,
      exported: exporter.exported,
      export_calls: exporter.calls,
      failures: exporter.failures,
    }),
  );
  if (exporter.failures.length > 0 || exporter.exported !== spans) {
    console.error(`export incomplete: ${exporter.exported}/${spans} spans exported`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
