//! Claude Code's OTLP metrics, as the official OpenTelemetry Rust SDK exports them (MeterProvider
//! and the opentelemetry-otlp MetricExporter over HTTP protobuf, HTTP JSON and gRPC), with
//! instruments named and attributed as Claude Code's monitoring documentation says: they land in
//! /api/db/sessions/{id}/claude-code-metrics and /metrics with exact values, delta and cumulative
//! temporality both add up, and a retried export never counts twice.

use crate::common;

use common::TestApp;
use common::claude_metrics::{ClaudeCode, MODEL, SESSION, attrs, flush, meter, provider, stop};
use common::spans::Transport;
use opentelemetry_sdk::metrics::Temporality;
use serde_json::Value;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Totals of the session's series from the REST endpoint, keyed by metric and one attribute.
async fn rest_total(app: &TestApp, metric: &str, key: &str, value: &str) -> f64 {
    let (status, body) = app
        .get(&format!("/api/db/sessions/{SESSION}/claude-code-metrics"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["metric"] == metric && (key.is_empty() || s["attributes"][key] == value))
        .map(|s| s["total"].as_f64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_exports_over_every_transport_land_in_rest_and_metrics() {
    for transport in [
        Transport::HttpProtobuf,
        Transport::HttpJson,
        Transport::Grpc,
    ] {
        let app = TestApp::spawn().await;
        let provider = provider(&app, transport, Temporality::Delta, 1);
        let cc = ClaudeCode::new(&meter(&provider));
        cc.sessions.add(1, &attrs(&[("start_type", "fresh")]));
        cc.api_request(1_200.0, 340.0, 5_000.0, 800.0, 0.0123);
        cc.lines
            .add(12, &attrs(&[("type", "added"), ("model", MODEL)]));
        cc.lines
            .add(3, &attrs(&[("type", "removed"), ("model", MODEL)]));
        cc.commits.add(1, &attrs(&[]));
        cc.pull_requests.add(1, &attrs(&[]));
        let decision = |tool, decision| {
            [
                ("tool_name", tool),
                ("decision", decision),
                ("source", "config"),
                ("language", "Rust"),
            ]
        };
        cc.decisions.add(2, &attrs(&decision("Edit", "accept")));
        cc.decisions.add(1, &attrs(&decision("Write", "reject")));
        cc.decisions
            .add(1, &attrs(&decision("SomeFutureTool", "accept")));
        cc.active_time.add(4.5, &attrs(&[("type", "user")]));
        cc.active_time.add(10.25, &attrs(&[("type", "cli")]));
        flush(&provider).await;
        // A second interval: only the token and cost series move (delta exports only those).
        cc.api_request(800.0, 60.0, 6_000.0, 0.0, 0.0077);
        flush(&provider).await;

        let expect = |metric: &'static str, key: &'static str, value: &'static str, total: f64| {
            (metric, key, value, total)
        };
        for (metric, key, value, total) in [
            expect("claude_code.token.usage", "type", "input", 2_000.0),
            expect("claude_code.token.usage", "type", "output", 400.0),
            expect("claude_code.token.usage", "type", "cacheRead", 11_000.0),
            expect("claude_code.token.usage", "type", "cacheCreation", 800.0),
            expect("claude_code.cost.usage", "model", MODEL, 0.02),
            expect("claude_code.session.count", "start_type", "fresh", 1.0),
            expect("claude_code.lines_of_code.count", "type", "added", 12.0),
            expect("claude_code.commit.count", "", "", 1.0),
            expect("claude_code.active_time.total", "type", "cli", 10.25),
        ] {
            let got = rest_total(&app, metric, key, value).await;
            assert!(
                close(got, total),
                "{transport:?} {metric} {value}: {got} != {total}"
            );
        }

        let m = |name: &'static str, labels: &'static [(&'static str, &'static str)], v: f64| {
            (name, labels, v)
        };
        for (name, labels, expected) in [
            m(
                "acd_claude_code_tokens_total",
                &[("model", MODEL), ("type", "input")],
                2_000.0,
            ),
            m(
                "acd_claude_code_tokens_total",
                &[("model", MODEL), ("type", "cache_read")],
                11_000.0,
            ),
            m(
                "acd_claude_code_tokens_total",
                &[("model", MODEL), ("type", "cache_creation")],
                800.0,
            ),
            m("acd_claude_code_cost_usd_total", &[("model", MODEL)], 0.02),
            m("acd_claude_code_sessions_total", &[], 1.0),
            m(
                "acd_claude_code_lines_of_code_total",
                &[("type", "removed")],
                3.0,
            ),
            m("acd_claude_code_commits_total", &[], 1.0),
            m("acd_claude_code_pull_requests_total", &[], 1.0),
            m(
                "acd_claude_code_active_time_seconds_total",
                &[("type", "user")],
                4.5,
            ),
            m(
                "acd_claude_code_code_edit_tool_decisions_total",
                &[("tool", "Edit"), ("decision", "accept")],
                2.0,
            ),
            m(
                "acd_claude_code_code_edit_tool_decisions_total",
                &[("tool", "Write"), ("decision", "reject")],
                1.0,
            ),
            m(
                "acd_claude_code_code_edit_tool_decisions_total",
                &[("tool", "other"), ("decision", "accept")],
                1.0,
            ),
            // 15 series in the first export, 5 (4 token types + cost) in the second.
            m(
                "acd_otlp_metric_points_received_total",
                &[("outcome", "accepted")],
                20.0,
            ),
            // Events win: Claude Code's metrics never feed the span/event token counters.
            m("acd_tokens_total", &[("model", MODEL)], 0.0),
        ] {
            let got = app.metric(name, labels).await;
            assert!(
                close(got, expected),
                "{transport:?} {name} {labels:?}: {got} != {expected}"
            );
        }
        stop(provider).await;
        app.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cumulative_exports_count_differences_resets_and_retries_once() {
    let app = TestApp::spawn().await;
    // Every export is sent twice, byte for byte: the second copy must add nothing.
    let first = provider(&app, Transport::HttpProtobuf, Temporality::Cumulative, 2);
    let cc = ClaudeCode::new(&meter(&first));
    cc.api_request(1_000.0, 100.0, 0.0, 0.0, 0.01);
    flush(&first).await;
    cc.api_request(500.0, 50.0, 0.0, 0.0, 0.005);
    flush(&first).await;
    // Nothing new: the cumulative series are exported again, unchanged, and add 0.
    flush(&first).await;
    stop(first).await;

    let input = [("model", MODEL), ("type", "input")];
    assert!(close(
        rest_total(&app, "claude_code.token.usage", "type", "input").await,
        1_500.0
    ));
    assert!(close(
        app.metric("acd_claude_code_tokens_total", &input).await,
        1_500.0
    ));
    assert!(close(
        app.metric("acd_claude_code_cost_usd_total", &[("model", MODEL)])
            .await,
        0.015
    ));
    // 5 series × 4 exports (3 flushes, 1 at shutdown) were new once each; every second copy
    // was a duplicate.
    let outcome = |o| [("outcome", o)];
    assert_eq!(
        app.metric(
            "acd_otlp_metric_points_received_total",
            &outcome("accepted")
        )
        .await,
        20.0
    );
    assert_eq!(
        app.metric(
            "acd_otlp_metric_points_received_total",
            &outcome("duplicate")
        )
        .await,
        20.0
    );

    // Claude Code restarted (same session, new process): a new start time is a reset, so its
    // first value is added whole, over gRPC this time.
    let second = provider(&app, Transport::Grpc, Temporality::Cumulative, 1);
    ClaudeCode::new(&meter(&second)).api_request(300.0, 30.0, 0.0, 0.0, 0.003);
    flush(&second).await;
    stop(second).await;
    assert!(close(
        rest_total(&app, "claude_code.token.usage", "type", "input").await,
        1_800.0
    ));
    assert!(close(
        app.metric("acd_claude_code_tokens_total", &input).await,
        1_800.0
    ));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_metrics_are_acknowledged_and_ignored() {
    let app = TestApp::spawn().await;
    let provider = provider(&app, Transport::HttpJson, Temporality::Delta, 1);
    let meter = meter(&provider);
    meter
        .u64_counter("http.server.requests")
        .build()
        .add(3, &[]);
    meter
        .f64_gauge("claude_code.some_gauge")
        .build()
        .record(1.5, &attrs(&[]));
    meter
        .f64_histogram("claude_code.some_histogram")
        .build()
        .record(2.0, &attrs(&[]));
    flush(&provider).await;
    stop(provider).await;
    let ignored = app
        .metric(
            "acd_otlp_metric_points_received_total",
            &[("outcome", "ignored")],
        )
        .await;
    assert_eq!(ignored, 3.0);
    let (status, body) = app
        .get(&format!("/api/db/sessions/{SESSION}/claude-code-metrics"))
        .await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains(SESSION));
    app.shutdown().await;
}

#[tokio::test]
async fn gzip_json_with_an_invalid_point_is_a_partial_success() {
    let app = TestApp::spawn().await;
    let point = |value: Value, time: &str| {
        serde_json::json!({
            "attributes": [{"key": "session.id", "value": {"stringValue": SESSION}}],
            "startTimeUnixNano": "1800000000000000000", "timeUnixNano": time, "asInt": value,
        })
    };
    let body = serde_json::json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{
        "name": "claude_code.commit.count", "unit": "count",
        "sum": {"aggregationTemporality": 1, "isMonotonic": true, "dataPoints": [
            point("2".into(), "1800000060000000000"),
            point("-1".into(), "1800000120000000000"),
        ]}
    }]}]}]});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, body.to_string().as_bytes()).unwrap();
    let response = app
        .http
        .post(format!("{}/v1/metrics", app.otlp_http))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["partialSuccess"]["rejectedDataPoints"], 1, "{reply}");
    assert!(close(
        rest_total(&app, "claude_code.commit.count", "", "").await,
        2.0
    ));
    assert_eq!(app.metric("acd_claude_code_commits_total", &[]).await, 2.0);

    let (status, _) = app
        .get("/api/db/sessions/not-a-uuid/claude-code-metrics")
        .await;
    assert_eq!(status, 400);
    app.shutdown().await;
}
