//! The context plan through the REST API on a small git repository with known answers: the
//! file about the feature ranks first with its reason, the file it imports follows as a link,
//! recently committed and hot files carry their reasons, a large file is cut to the section
//! about the feature, the budget holds, the LRU flag is written, and bad input gets JSON 4xx.

mod outside;

use crate::common;

use std::path::Path;
use std::process::Command;

use common::TestApp;
use common::codebase_tree::{post, wait_for_job, write};
use common::spans::{self, Transport};
use serde_json::{Value, json};

fn git(root: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

/// A tiny Rust crate with a history: the router is the newest commit.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q"]);
    write(
        root,
        "src/lib.rs",
        b"pub mod billing;\npub mod invoice;\npub mod router;\npub mod tax;\n",
    );
    write(
        root,
        "src/tax.rs",
        b"/// VAT rates.\npub fn vat_rate(country: &str) -> f64 { 0.2 }\n",
    );
    write(
        root,
        "src/invoice.rs",
        b"use crate::tax::vat_rate;\n\npub struct Invoice { pub total_cents: i64 }\n\npub fn invoice_total(lines: &[i64]) -> i64 { lines.iter().sum() }\n",
    );
    let mut billing = String::from("//! Billing.\nuse crate::invoice::Invoice;\n\n");
    for i in 0..300 {
        billing.push_str(&format!(
            "pub fn ledger_entry_{i}(amount: i64) -> i64 {{\n    amount * {i}\n}}\n\n"
        ));
    }
    billing.push_str(
        "pub fn refund_invoice(invoice: &Invoice) -> i64 {\n    -invoice.total_cents\n}\n\n",
    );
    for i in 300..600 {
        billing.push_str(&format!(
            "pub fn ledger_entry_{i}(amount: i64) -> i64 {{\n    amount * {i}\n}}\n\n"
        ));
    }
    write(root, "src/billing.rs", billing.as_bytes());
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "billing and invoices"]);
    write(
        root,
        "src/router.rs",
        b"pub fn route(path: &str) -> &str { path }\n",
    );
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "router"]);
    dir
}

async fn indexed_target(app: &TestApp, root: &Path) -> String {
    let (status, target) = post(
        app,
        "/api/db/targets",
        json!({"name": "billing", "path": root.to_str().unwrap()}),
    )
    .await;
    assert_eq!(status, 201, "{target}");
    let id = target["id"].as_str().unwrap().to_string();
    let (status, job) = post(app, &format!("/api/db/codebase/{id}/reindex"), json!({})).await;
    assert_eq!(status, 202, "{job}");
    let (done, _) = wait_for_job(app, job["job_id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    id
}

fn file<'a>(plan: &'a Value, path: &str) -> Option<&'a Value> {
    plan["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
}

fn reasons(f: &Value) -> Vec<&str> {
    f["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_plan_picks_the_right_files_within_budget() {
    let dir = repo();
    let app = TestApp::spawn().await;
    let id = indexed_target(&app, dir.path()).await;

    let (status, plan) = post(
        &app,
        &format!("/api/db/context/optimize/{id}"),
        json!({"feature": "Compute the invoice total with VAT"}),
    )
    .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(
        plan["budget_tokens"], 77_000,
        "the PRD's layout of a 200K window"
    );
    assert_eq!(plan["recency_source"], "git");
    assert_eq!(plan["files"][0]["path"], "src/invoice.rs", "{plan}");
    assert!(reasons(&plan["files"][0]).contains(&"relevant_to_feature"));
    let tax = file(&plan, "src/tax.rs").expect("tax.rs planned");
    assert!(reasons(tax).contains(&"relevant_to_feature") || reasons(tax).contains(&"import_link"));
    let router = file(&plan, "src/router.rs").expect("the newest file is planned");
    assert!(reasons(router).contains(&"recently_modified"), "{router}");
    let seg = &plan["segments"];
    assert_eq!(seg["system"], 2_000);
    assert!(seg["total"].as_u64().unwrap() <= 77_000);
    assert_eq!(
        seg["conversation"].as_u64().unwrap(),
        200_000 - seg["total"].as_u64().unwrap()
    );

    // A budget that cannot hold billing.rs whole: it is cut to the refund section.
    let (status, plan) = post(
        &app,
        &format!("/api/db/context/optimize/{id}"),
        json!({"feature": "Refund an invoice", "budget_tokens": 3_500}),
    )
    .await;
    assert_eq!(status, 200, "{plan}");
    assert!(
        plan["segments"]["total"].as_u64().unwrap() <= 3_500,
        "{plan}"
    );
    let billing = file(&plan, "src/billing.rs").expect("billing.rs planned");
    assert!(billing["tokens"].as_u64().unwrap() < billing["file_tokens"].as_u64().unwrap());
    let ranges = billing["ranges"].as_array().unwrap();
    let text = std::fs::read_to_string(dir.path().join("src/billing.rs")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let refund = lines
        .iter()
        .position(|l| l.contains("fn refund_invoice"))
        .unwrap()
        + 1;
    assert!(
        ranges
            .iter()
            .any(|r| r["start"].as_u64().unwrap() as usize <= refund
                && refund <= r["end"].as_u64().unwrap() as usize),
        "{ranges:?}"
    );
    assert_eq!(ranges[0]["start"], 1, "the head is kept");
    app.shutdown().await;
}

#[tokio::test]
async fn hot_files_join_the_plan_and_the_lru_set() {
    let dir = repo();
    let app = TestApp::spawn().await;
    let id = indexed_target(&app, dir.path()).await;
    // A session of this target that read tax.rs three times (absolute paths under the root).
    let abs = format!("{}/src/tax.rs", dir.path().display());
    let trace = 0x7a5_u128;
    let mut session = spans::session(trace, 1, "plan-hot", (0, 100));
    session
        .attributes
        .retain(|kv| kv.key.as_str() != "acd.target.id");
    session
        .attributes
        .push(opentelemetry::KeyValue::new("acd.target.id", id.clone()));
    let mut batch = vec![session];
    for i in 0..3 {
        batch.push(spans::tool(
            trace,
            10 + i,
            1,
            "Read",
            &abs,
            (i * 10, i * 10 + 5),
        ));
    }
    spans::export(Transport::HttpProtobuf, &app, batch)
        .await
        .unwrap();

    let (status, plan) = post(&app, &format!("/api/db/context/optimize/{id}"),
        json!({"feature": "router paths", "lru_size": 1, "open_files": [format!("{}/src/lib.rs", dir.path().display())]})).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["lru"], json!(["src/tax.rs"]));
    assert_eq!(plan["files"][0]["path"], "src/lib.rs", "open files first");
    assert!(reasons(&plan["files"][0]).contains(&"open"));
    let tax = file(&plan, "src/tax.rs").expect("hot file planned");
    assert!(reasons(tax).contains(&"hot"));
    assert!(plan["segments"]["cached_files"].as_u64().unwrap() >= tax["tokens"].as_u64().unwrap());
    let (_, hot) = app.get(&format!("/api/db/context/hot-files/{id}")).await;
    assert_eq!(hot["files"][0]["file_path"], "src/tax.rs");
    assert_eq!(hot["files"][0]["access_count"], 3);
    assert_eq!(hot["files"][0]["is_cached"], true);
    assert!(
        hot["files"][0]["avg_tokens"].as_i64().unwrap() > 0,
        "tokens from the index"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn bad_plan_requests_get_json_4xx() {
    let app = TestApp::spawn().await;
    // A directory of its own: /tmp itself is refused as a root (issue 19.7).
    let scratch = tempfile::tempdir().unwrap();
    let (_, unrooted) = post(
        &app,
        "/api/db/targets",
        json!({"name": "x", "path": scratch.path().to_str().unwrap()}),
    )
    .await;
    let unindexed = unrooted["id"].as_str().unwrap().to_string();
    let nil = uuid::Uuid::nil();
    for (path, body, want) in [
        (
            "/api/db/context/optimize/nope".to_string(),
            json!({"feature": "x"}),
            400,
        ),
        (
            format!("/api/db/context/optimize/{nil}"),
            json!({"feature": "x"}),
            404,
        ),
        (
            format!("/api/db/context/optimize/{nil}"),
            json!({"feature": "  "}),
            400,
        ),
        (
            format!("/api/db/context/optimize/{nil}"),
            json!({"budget_tokens": 5}),
            400,
        ),
        (
            format!("/api/db/context/optimize/{nil}"),
            json!({"feature": "x", "budget_tokens": 300_000}),
            400,
        ),
        (
            format!("/api/db/context/optimize/{nil}"),
            json!({"feature": "x", "lru_size": 0}),
            400,
        ),
        (
            format!("/api/db/context/optimize/{nil}"),
            json!({"feature": "x", "colour": 1}),
            400,
        ),
        (
            format!("/api/db/context/optimize/{unindexed}"),
            json!({"feature": "x"}),
            409,
        ),
    ] {
        let (status, body) = post(&app, &path, body).await;
        assert_eq!(status, want, "{path}: {body}");
        assert!(body["error"].is_string(), "{body}");
    }
    let (_, doc) = app.get("/api/openapi.json").await;
    for path in [
        "/api/db/context/{session_id}",
        "/api/db/context/hot-files/{target_id}",
    ] {
        assert!(doc["paths"][path]["get"].is_object(), "{path}");
    }
    assert!(doc["paths"]["/api/db/context/optimize/{target_id}"]["post"].is_object());
    app.shutdown().await;
}
