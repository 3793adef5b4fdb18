//! The real `acd-collector serve` binary as an operator runs it, on free ports, for tests that
//! need a separate process (several replicas on one database, command-line options); killed
//! when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};
use serde_json::Value;

/// A port nobody listens on now (the kernel's choice).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct ServeProcess {
    child: Child,
    pub api: String,
    pub otlp_http: String,
}

impl ServeProcess {
    /// `serve` with `args` (the database options) on fresh ports; returns once `/readyz` is 200.
    pub async fn start(args: &[&str]) -> Self {
        let (api, http, grpc) = (free_port(), free_port(), free_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_acd-collector"))
            .arg("serve")
            .args(args)
            .args(["--api", &format!("127.0.0.1:{api}")])
            .args(["--otlp-http", &format!("127.0.0.1:{http}")])
            .args(["--otlp-grpc", &format!("127.0.0.1:{grpc}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the collector binary starts");
        let api = format!("http://127.0.0.1:{api}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = reqwest::get(format!("{api}/readyz")).await
                && r.status() == 200
            {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("collector exited early ({status})");
            }
            assert!(Instant::now() < deadline, "collector not ready after 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self {
            child,
            api,
            otlp_http: format!("http://127.0.0.1:{http}"),
        }
    }

    /// Sends spans with the official SDK's OTLP/HTTP exporter; panics unless acknowledged.
    pub async fn export(&self, spans: Vec<SpanData>) {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{}/v1/traces", self.otlp_http))
            .with_timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        exporter.export(spans).await.expect("export acknowledged");
    }

    /// GET a path; the status and the JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = reqwest::get(format!("{}{path}", self.api)).await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    pub async fn scrape(&self) -> prometheus_parse::Scrape {
        let text = reqwest::get(format!("{}/metrics", self.api))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
