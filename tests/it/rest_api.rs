//! The REST API answers clients' mistakes with JSON 4xx (never a 500), serves exact token-usage
//! figures, documents itself in OpenAPI, and /metrics is accepted by the real `promtool`.

use crate::common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::TestApp;
use common::spans::{self, MODEL, Tokens, Transport};

const T1: Tokens = Tokens {
    input: 5_000,
    output: 1_000,
    cache_read: 3_000,
    cache_write: 0,
};
const T2: Tokens = Tokens {
    input: 2_000,
    output: 500,
    cache_read: 0,
    cache_write: 1_000,
};

async fn seeded() -> TestApp {
    let app = TestApp::spawn().await;
    let trace = 0xc0ffee_u128;
    let batch = vec![
        spans::session(trace, 0x40, "rest-session", (0, 30_000)),
        spans::turn(trace, 0x41, 0x40, 1, (1_000, 2_000), T1, 0.2),
        spans::turn(trace, 0x42, 0x40, 2, (3_000, 5_000), T2, 0.4),
    ];
    spans::export(Transport::HttpProtobuf, &app, batch)
        .await
        .unwrap();
    app
}

#[tokio::test]
async fn client_mistakes_get_json_4xx() {
    let app = seeded().await;
    let unknown = uuid::Uuid::new_v4();
    for (path, status) in [
        (format!("/api/db/sessions/{unknown}"), 404),
        (format!("/api/db/sessions/{unknown}/turns"), 404),
        (format!("/api/db/sessions/{unknown}/timing"), 404),
        ("/api/db/sessions/not-a-uuid".into(), 400),
        ("/api/db/sessions/not-a-uuid/timing".into(), 400),
        ("/api/db/sessions?limit=0".into(), 400),
        ("/api/db/sessions?limit=abc".into(), 400),
        ("/api/db/sessions?offset=-1".into(), 400),
        ("/api/db/sessions?target_id=nope".into(), 400),
        ("/api/db/sessions?from=yesterday".into(), 400),
        (
            "/api/db/sessions?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z".into(),
            400,
        ),
        ("/api/db/token-usage?days=0".into(), 400),
        ("/api/db/token-usage?days=366".into(), 400),
        ("/api/db/token-usage/by-model?days=-3".into(), 400),
        ("/api/db/nothing-here".into(), 404),
    ] {
        let (got, body) = app.get(&path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}: {body}"
        );
    }
    let post = app
        .http
        .post(format!("{}/api/db/sessions", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    app.shutdown().await;
}

#[tokio::test]
async fn session_list_filters_and_pages() {
    let app = seeded().await;
    let (status, page) = app
        .get(&format!(
            "/api/db/sessions?target_id={}&limit=1",
            spans::TARGET_ID
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 1);
    assert_eq!(page["sessions"][0]["external_id"], "rest-session");
    let other_target = uuid::Uuid::new_v4();
    let (_, empty) = app
        .get(&format!("/api/db/sessions?target_id={other_target}"))
        .await;
    assert_eq!(empty["total"], 0);
    let (_, later) = app.get("/api/db/sessions?from=2999-01-01T00:00:00Z").await;
    assert_eq!(later["total"], 0);
    app.shutdown().await;
}

/// Pages of the default order (newest first, read from the started_at index) and of the other
/// orders agree: every session once, in order, ties broken by id.
#[tokio::test]
async fn session_pages_follow_their_order() {
    let app = TestApp::spawn().await;
    sqlx::raw_sql(
        "INSERT INTO harness_sessions (id, external_id, status, started_at, cost_usd)
         SELECT ('00000000-0000-4000-8000-00000000000' || n)::uuid, 'page-' || n, 'completed',
                '2026-11-01T00:00:00Z'::timestamptz + (n / 2) * interval '1 hour', n % 3
         FROM generate_series(1, 7) n",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let names = |page: &serde_json::Value| -> Vec<String> {
        page["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["external_id"].as_str().unwrap().to_string())
            .collect()
    };
    let mut paged = Vec::new();
    for offset in [0, 3, 6] {
        let (status, page) = app
            .get(&format!("/api/db/sessions?limit=3&offset={offset}"))
            .await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["total"], 7);
        paged.extend(names(&page));
    }
    // n / 2 hours: 6 and 7 are newest (tie: id order), then 4 and 5, ...
    let newest_first = [
        "page-6", "page-7", "page-4", "page-5", "page-2", "page-3", "page-1",
    ];
    assert_eq!(paged, newest_first);
    let (_, asc) = app.get("/api/db/sessions?order=asc&limit=7").await;
    assert_eq!(
        names(&asc),
        [
            "page-1", "page-2", "page-3", "page-4", "page-5", "page-6", "page-7"
        ]
    );
    let (_, by_cost) = app
        .get("/api/db/sessions?sort=cost_usd&limit=3&offset=1")
        .await;
    // cost n % 3, highest first, ties newest first: 5 (2), 2 (2), then 7, 4, 1 (1)
    assert_eq!(names(&by_cost), ["page-2", "page-7", "page-4"]);
    app.shutdown().await;
}

#[tokio::test]
async fn token_usage_endpoints_give_exact_figures() {
    let app = seeded().await;
    let input =
        (T1.input - T1.cache_read - T1.cache_write) + (T2.input - T2.cache_read - T2.cache_write);
    let output = T1.output + T2.output;
    let cache_read = T1.cache_read + T2.cache_read;

    let (status, series) = app.get("/api/db/token-usage?days=7").await;
    assert_eq!(status, 200);
    let daily = series["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 1, "{series}");
    assert_eq!(daily[0]["input_tokens"], input);
    assert_eq!(daily[0]["requests"], 2);

    let (_, by_model) = app.get("/api/db/token-usage/by-model").await;
    let m = &by_model["models"][0];
    assert_eq!(m["model"], MODEL);
    assert_eq!(m["output_tokens"], output);
    let hit = m["cache_hit_rate"].as_f64().unwrap();
    assert!((hit - cache_read as f64 / (cache_read + input) as f64).abs() < 1e-12);
    // Mean over turns of (uncached input + cache read + cache write) / 200K.
    let utilization = ((2_000.0 + 3_000.0) / 200_000.0 + (1_000.0 + 1_000.0) / 200_000.0) / 2.0;
    assert!((m["context_utilization"].as_f64().unwrap() - utilization).abs() < 1e-12);

    let (_, eff) = app.get("/api/db/token-usage/efficiency?days=30").await;
    assert!(
        (eff["token_efficiency"].as_f64().unwrap() - output as f64 / input as f64).abs() < 1e-12
    );
    assert_eq!(eff["features_completed"], 2);
    assert_eq!(eff["sessions"], 1);
    let cost = eff["total_cost_usd"].as_f64().unwrap();
    assert!((eff["cost_per_feature_usd"].as_f64().unwrap() - cost / 2.0).abs() < 1e-12);
    assert_eq!(eff["targets"]["cache_hit_rate_min"], 0.6);
    app.shutdown().await;
}

#[tokio::test]
async fn health_readiness_and_openapi() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz").await.0, 200);
    let (status, ready) = app.get("/readyz").await;
    assert_eq!((status, ready["database"].as_str()), (200, Some("ok")));
    let (status, doc) = app.get("/api/openapi.json").await;
    assert_eq!(status, 200);
    for path in [
        "/api/db/sessions",
        "/api/db/sessions/{session_id}",
        "/api/db/sessions/{session_id}/turns",
        "/api/db/sessions/{session_id}/timing",
        "/api/db/token-usage",
        "/api/db/token-usage/by-model",
        "/api/db/token-usage/efficiency",
    ] {
        assert!(
            doc["paths"][path]["get"].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    app.shutdown().await;
}

fn promtool_check(exposition: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is needed (Debian package prometheus; scripts/test installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[tokio::test]
async fn promtool_accepts_the_exposition_in_both_formats() {
    let app = seeded().await;
    let text = app.metrics_text().await;
    assert!(text.contains("acd_tokens_total{"), "{text}");
    let (ok, report) = promtool_check(&text);
    assert!(ok, "promtool rejected /metrics:\n{report}\n{text}");
    let openmetrics = app
        .http
        .get(format!("{}/metrics", app.api))
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .unwrap();
    assert!(
        openmetrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let body = openmetrics.text().await.unwrap();
    assert!(body.trim_end().ends_with("# EOF"));
    let session_id = acd_collector::domain::session_uuid("rest-session").to_string();
    assert!(
        !text.contains(&session_id) && !text.contains("session_id="),
        "session ids in metrics: {text}"
    );
    app.shutdown().await;
}
