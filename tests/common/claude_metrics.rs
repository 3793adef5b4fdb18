//! Claude Code's OTLP metrics as Claude Code sends them: counters named and attributed as its
//! monitoring documentation says, on a MeterProvider with Claude Code's resource and meter name,
//! exported by the official opentelemetry-otlp MetricExporter over HTTP or gRPC.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};

use super::TestApp;
use super::spans::Transport;

/// Claude Code's session.id is a UUID, so it is also our session id.
pub const SESSION: &str = "5b0c8a52-3f0e-4c55-9a51-0d8f1d7e2c11";
pub const MODEL: &str = "claude-sonnet-4-5-20250929";

/// Runs an exporter's futures inside the test's Tokio runtime. The SDK's PeriodicReader exports
/// from its own thread; the OTLP clients need a Tokio context. `sends` > 1 repeats every export
/// byte for byte, like an exporter retrying after a lost response.
struct OnRuntime<E> {
    inner: E,
    handle: tokio::runtime::Handle,
    sends: usize,
}

struct InContext<'a> {
    handle: &'a tokio::runtime::Handle,
    future: Pin<Box<dyn Future<Output = OTelSdkResult> + Send + 'a>>,
}

impl Future for InContext<'_> {
    type Output = OTelSdkResult;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<OTelSdkResult> {
        let this = self.get_mut();
        let _entered = this.handle.enter();
        this.future.as_mut().poll(cx)
    }
}

impl<E: PushMetricExporter> PushMetricExporter for OnRuntime<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        for _ in 0..self.sends {
            InContext {
                handle: &self.handle,
                future: Box::pin(self.inner.export(metrics)),
            }
            .await?;
        }
        Ok(())
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

/// A MeterProvider exporting to the app like Claude Code does (resource, meter name).
pub fn provider(
    app: &TestApp,
    transport: Transport,
    temporality: Temporality,
    sends: usize,
) -> SdkMeterProvider {
    let timeout = Duration::from_secs(10);
    let exporter = match transport {
        Transport::HttpProtobuf | Transport::HttpJson => {
            opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_protocol(match transport {
                    Transport::HttpJson => Protocol::HttpJson,
                    _ => Protocol::HttpBinary,
                })
                .with_endpoint(format!("{}/v1/metrics", app.otlp_http))
                .with_timeout(timeout)
                .with_temporality(temporality)
                .build()
        }
        Transport::Grpc => opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_endpoint(app.otlp_grpc.clone())
            .with_compression(opentelemetry_otlp::Compression::Gzip)
            .with_timeout(timeout)
            .with_temporality(temporality)
            .build(),
    }
    .expect("exporter builds");
    let exporter = OnRuntime {
        inner: exporter,
        handle: tokio::runtime::Handle::current(),
        sends,
    };
    let resource = Resource::builder()
        .with_service_name("claude-code")
        .with_attributes([
            KeyValue::new("service.version", "2.1.0"),
            KeyValue::new("os.type", "linux"),
            KeyValue::new("host.arch", "amd64"),
        ])
        .build();
    SdkMeterProvider::builder()
        .with_resource(resource)
        // Exports happen on flush only: the long interval never fires during a test.
        .with_reader(
            PeriodicReader::builder(exporter)
                .with_interval(Duration::from_secs(3600))
                .build(),
        )
        .build()
}

/// Collects and exports now (blocking call, so off the async workers).
pub async fn flush(provider: &SdkMeterProvider) {
    let provider = provider.clone();
    tokio::task::spawn_blocking(move || provider.force_flush())
        .await
        .unwrap()
        .expect("export succeeds");
}

/// Shuts the provider down; like Claude Code on exit, this exports one last time.
pub async fn stop(provider: SdkMeterProvider) {
    tokio::task::spawn_blocking(move || provider.shutdown())
        .await
        .unwrap()
        .expect("shutdown exports");
}

/// The standard attributes Claude Code puts on every data point, plus the metric's own.
pub fn attrs(extra: &[(&'static str, &'static str)]) -> Vec<KeyValue> {
    let mut kvs = vec![
        KeyValue::new("session.id", SESSION),
        KeyValue::new("user.id", "4f2a0000c0ffee"),
        KeyValue::new("organization.id", "0e4d1f4c-1111-4aaa-8bbb-123456789abc"),
        KeyValue::new("terminal.type", "tmux"),
    ];
    kvs.extend(extra.iter().map(|&(k, v)| KeyValue::new(k, v)));
    kvs
}

/// A session's worth of Claude Code counters, named and typed as Claude Code's meter does.
pub struct ClaudeCode {
    pub tokens: opentelemetry::metrics::Counter<f64>,
    pub cost: opentelemetry::metrics::Counter<f64>,
    pub sessions: opentelemetry::metrics::Counter<u64>,
    pub lines: opentelemetry::metrics::Counter<u64>,
    pub commits: opentelemetry::metrics::Counter<u64>,
    pub pull_requests: opentelemetry::metrics::Counter<u64>,
    pub decisions: opentelemetry::metrics::Counter<u64>,
    pub active_time: opentelemetry::metrics::Counter<f64>,
}

impl ClaudeCode {
    pub fn new(meter: &Meter) -> Self {
        Self {
            tokens: meter
                .f64_counter("claude_code.token.usage")
                .with_unit("tokens")
                .build(),
            cost: meter
                .f64_counter("claude_code.cost.usage")
                .with_unit("USD")
                .build(),
            sessions: meter
                .u64_counter("claude_code.session.count")
                .with_unit("count")
                .build(),
            lines: meter
                .u64_counter("claude_code.lines_of_code.count")
                .with_unit("count")
                .build(),
            commits: meter
                .u64_counter("claude_code.commit.count")
                .with_unit("count")
                .build(),
            pull_requests: meter
                .u64_counter("claude_code.pull_request.count")
                .with_unit("count")
                .build(),
            decisions: meter
                .u64_counter("claude_code.code_edit_tool.decision")
                .with_unit("count")
                .build(),
            active_time: meter
                .f64_counter("claude_code.active_time.total")
                .with_unit("s")
                .build(),
        }
    }

    /// One API request's token and cost counters, as Claude Code records them after a request.
    pub fn api_request(
        &self,
        input: f64,
        output: f64,
        cache_read: f64,
        cache_creation: f64,
        cost: f64,
    ) {
        let model = [("model", MODEL), ("query_source", "main")];
        for (kind, n) in [
            ("input", input),
            ("output", output),
            ("cacheRead", cache_read),
            ("cacheCreation", cache_creation),
        ] {
            let mut labels = model.to_vec();
            labels.push(("type", kind));
            self.tokens.add(n, &attrs(&labels));
        }
        self.cost.add(cost, &attrs(&model));
    }
}

pub fn meter(provider: &SdkMeterProvider) -> Meter {
    provider.meter("com.anthropic.claude_code")
}
