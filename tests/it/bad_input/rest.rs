//! REST input PostgreSQL refuses (issue 19, item 8): a time outside `timestamptz`'s range
//! (`-4714-01-01`), a NUL in a target's name or path, a NUL in a test run's `suite` or
//! `revision`. Each was a 500 from the query or insert; each is now a JSON 400 from the
//! extractor or handler that names the field, and a valid request still succeeds.

use prost::Message;

use super::{TestApp, post, request, session};

/// Asserts a JSON 400 whose error mentions `needle`.
async fn assert_400(response: reqwest::Response, needle: &str) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.expect("a JSON error body");
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.contains(needle), "{needle:?} not in {body}");
}

#[tokio::test]
async fn out_of_range_times_are_400_not_500() {
    let app = TestApp::spawn().await;
    for (query, field) in [
        ("from=-4714-01-01T00:00:00Z", "out of range"),
        ("to=-4714-01-01T00:00:00Z", "out of range"),
        ("from=0000-12-31T23:59:59Z", "out of range"),
        (
            "from=-0001-01-01T00:00:00Z&to=2020-01-01T00:00:00Z",
            "out of range",
        ),
    ] {
        let response = app
            .http
            .get(format!("{}/api/db/sessions?{query}", app.api))
            .send()
            .await
            .unwrap();
        assert_400(response, field).await;
    }
    let response = app
        .http
        .post(format!(
            "{}/api/db/ingest/claude-run?ended_at=-4714-01-01T00:00:00Z",
            app.api
        ))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_400(response, "out of range").await;
    // The ends of the accepted range still answer.
    let (status, body) = app
        .get("/api/db/sessions?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z")
        .await;
    assert_eq!(status, 200, "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn nul_in_target_names_and_test_run_fields_is_400_not_500() {
    let app = TestApp::spawn().await;
    let root = tempfile::tempdir().unwrap();
    let path = root.path().to_str().unwrap().to_owned();
    for (body, field) in [
        (serde_json::json!({"name": "a\u{0}b", "path": path}), "name"),
        (serde_json::json!({"path": format!("{path}\u{0}x")}), "path"),
    ] {
        let response = app
            .http
            .post(format!("{}/api/db/targets", app.api))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_400(response, field).await;
    }

    let conversation = "rest-nul";
    let stored = post(
        &app,
        "application/x-protobuf",
        request(vec![session(9, 1, conversation)]).encode_to_vec(),
    )
    .await;
    assert_eq!(stored.status(), 200);
    let id = acd_collector::domain::session_uuid(conversation);
    let junit = r#"<testsuite name="s" tests="1"><testcase classname="c" name="t"/></testsuite>"#;
    let upload = |query: &str| {
        app.http
            .post(format!(
                "{}/api/db/sessions/{id}/test-runs?{query}",
                app.api
            ))
            .header("content-type", "application/xml")
            .body(junit)
            .send()
    };
    assert_400(upload("suite=a%00b").await.unwrap(), "NUL").await;
    assert_400(upload("revision=%00").await.unwrap(), "NUL").await;
    // Without the NUL the same upload is stored.
    let response = upload("suite=ab&revision=r1").await.unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    app.shutdown().await;
}
