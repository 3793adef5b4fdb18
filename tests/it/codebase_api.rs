//! Codebase index through the REST API: targets are registered (only real, absolute
//! directories), reindex jobs run in the background with progress and are stored with exact
//! figures, metrics follow, and bad input gets JSON 4xx, never a 500.

mod roots;

use crate::common;

use common::codebase_tree::{histogram_count, post, tree, wait_for_job};
use serde_json::json;

#[tokio::test]
async fn reindex_runs_as_a_job_and_is_stored() {
    let tree = tree();
    let app = common::TestApp::spawn().await;
    let root = tree.root.to_str().unwrap();
    let (status, target) = post(
        &app,
        "/api/db/targets",
        json!({"name": "demo", "path": root}),
    )
    .await;
    assert_eq!(status, 201, "{target}");
    assert_eq!(target["root_path"], root);
    let id = target["id"].as_str().unwrap().to_string();
    // Registering the same root again answers with the same target.
    let (status, again) = post(&app, "/api/db/targets", json!({"path": format!("{root}/")})).await;
    assert_eq!((status, again["id"].as_str()), (200, Some(id.as_str())));
    let (_, list) = app.get("/api/db/targets").await;
    assert_eq!(list["targets"].as_array().unwrap().len(), 1);

    let (status, accepted) = post(&app, &format!("/api/db/codebase/{id}/reindex"), json!({})).await;
    assert_eq!(status, 202, "{accepted}");
    let job = accepted["job_id"].as_str().unwrap().to_string();
    assert_eq!(
        accepted["status_url"],
        format!("/api/db/codebase/jobs/{job}")
    );
    let (done, states) = wait_for_job(&app, &job).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        (done["files_seen"].as_i64(), done["files_done"].as_i64()),
        (Some(7), Some(7))
    );
    assert_eq!(states.last().map(String::as_str), Some("succeeded"));
    assert!(done["error"].is_null() && done["index_id"].is_string());

    let (status, detail) = app.get(&format!("/api/db/codebase/{id}")).await;
    assert_eq!(status, 200, "{detail}");
    let latest = &detail["latest"];
    assert_eq!(latest["id"], done["index_id"]);
    for (field, want) in [
        ("total_files", 6),
        ("total_lines", 17),
        ("lines", 17),
        ("code_lines", 9),
        ("comment_lines", 5),
        ("blank_lines", 3),
        ("total_size_bytes", 168),
        ("index_size_tokens", 44),
        ("tokens_estimate", 44),
        ("binary_files", 1),
        ("files_read", 7),
        ("files_reused", 0),
    ] {
        assert_eq!(latest[field], want, "{field}: {latest}");
    }
    assert_eq!(latest["token_method"], "chars/4");
    assert_eq!(
        latest["file_types"],
        json!({"(none)": 1, "md": 1, "py": 1, "rs": 2, "txt": 1})
    );
    assert_eq!(
        latest["languages"]["Rust"],
        json!({"files": 2, "lines": 8, "code": 4, "comments": 3, "blanks": 1, "bytes": 83})
    );
    assert_eq!(
        latest["largest_files"][0],
        json!({"path": "src/main.rs", "size_bytes": 70, "lines": 7, "language": "Rust"})
    );
    assert_eq!(latest["largest_files"].as_array().unwrap().len(), 6);
    assert_eq!(
        latest["problems"]["escaping_symlink"],
        json!({"count": 2, "examples": ["file_out.rs", "link_out"]})
    );
    assert_eq!(detail["target"]["total_files"], 6);
    assert_eq!(detail["target"]["total_loc"], 17);
    assert_eq!(detail["target"]["index_size_tokens"], 44);
    assert!(detail["target"]["last_indexed_at"].is_string());
    assert_eq!(detail["history"], json!([]));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM codebase_files")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 7);

    // Unchanged: the second run opens nothing and reports the same figures.
    let (_, second) = post(&app, &format!("/api/db/codebase/{id}/reindex"), json!({})).await;
    let (done, _) = wait_for_job(&app, second["job_id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let (_, detail) = app.get(&format!("/api/db/codebase/{id}")).await;
    let latest = &detail["latest"];
    assert_eq!(
        (
            latest["files_read"].as_i64(),
            latest["files_reused"].as_i64()
        ),
        (Some(0), Some(7))
    );
    assert_eq!(
        (latest["lines"].as_i64(), latest["tokens_estimate"].as_i64()),
        (Some(17), Some(44))
    );
    assert_eq!(detail["history"].as_array().unwrap().len(), 1);

    let (status, largest) = app.get("/api/db/codebase/largest").await;
    assert_eq!(status, 200);
    assert_eq!(largest["codebases"][0]["target_id"], id.as_str());
    assert_eq!(largest["codebases"][0]["total_size_bytes"], 168);
    assert_eq!(largest["codebases"][0]["name"], "demo");

    let files = [
        ("demo", "acd_codebase_files", 6.0),
        ("demo", "acd_codebase_lines", 17.0),
        ("demo", "acd_codebase_bytes", 168.0),
        ("demo", "acd_codebase_index_tokens", 44.0),
    ];
    for (target, metric, want) in files {
        assert_eq!(
            app.metric(metric, &[("target", target)]).await,
            want,
            "{metric}"
        );
    }
    let text = app.metrics_text().await;
    assert_eq!(
        histogram_count(&text, "acd_codebase_index_duration_seconds"),
        2.0
    );
    assert!(
        app.metric("acd_codebase_last_indexed_timestamp_seconds", &[])
            .await
            > 1.7e9
    );
    app.shutdown().await;
}

#[tokio::test]
async fn bad_input_gets_json_4xx() {
    let tree = tree();
    let app = common::TestApp::spawn().await;
    let root = tree.root.to_str().unwrap().to_string();
    let file = format!("{root}/notes");
    let (_, first) = post(&app, "/api/db/targets", json!({"name": "a", "path": root})).await;
    let other = uuid::Uuid::new_v4();
    for (body, status) in [
        (json!({"path": "relative/dir"}), 400),
        (json!({"path": format!("{root}/../repo")}), 400),
        (json!({"path": format!("{root}/does-not-exist")}), 400),
        (json!({"path": file}), 400),
        (json!({"path": ""}), 400),
        (json!({"name": "x"}), 400),
        (json!({"path": root, "extra": 1}), 400),
        (json!({"path": root, "id": "not-a-uuid"}), 400),
        (json!({"path": root, "id": other.to_string()}), 409),
    ] {
        let (got, answer) = post(&app, "/api/db/targets", body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{answer}"
        );
    }
    let not_json = app
        .http
        .post(format!("{}/api/db/targets", app.api))
        .body("path=/tmp")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 415);

    // A target that sessions named but that has no registered root cannot be indexed.
    let rootless = uuid::Uuid::new_v4();
    sqlx::query("INSERT INTO targets (id, name) VALUES ($1, 'rootless')")
        .bind(rootless)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let unknown = uuid::Uuid::new_v4();
    for (path, status) in [
        ("/api/db/codebase/not-a-uuid/reindex".to_string(), 400),
        (format!("/api/db/codebase/{unknown}/reindex"), 404),
        (format!("/api/db/codebase/{rootless}/reindex"), 409),
    ] {
        let (got, answer) = post(&app, &path, json!({})).await;
        assert_eq!(got, status, "{path}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    for (path, status) in [
        ("/api/db/codebase/jobs/nope".to_string(), 400),
        (format!("/api/db/codebase/jobs/{unknown}"), 404),
        (format!("/api/db/codebase/{unknown}"), 404),
        ("/api/db/codebase/not-a-uuid".to_string(), 400),
        ("/api/db/codebase/largest?limit=0".to_string(), 400),
        ("/api/db/codebase/largest?limit=x".to_string(), 400),
        (
            format!(
                "/api/db/codebase/{}?limit=101",
                first["id"].as_str().unwrap()
            ),
            400,
        ),
    ] {
        let (got, answer) = app.get(&path).await;
        assert_eq!(got, status, "{path}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    // A root that disappears after registration: the job fails with a message, nothing panics.
    let id = first["id"].as_str().unwrap();
    std::fs::rename(&tree.root, tree.root.with_file_name("gone")).unwrap();
    let (status, accepted) = post(&app, &format!("/api/db/codebase/{id}/reindex"), json!({})).await;
    assert_eq!(status, 202);
    let (done, _) = wait_for_job(&app, accepted["job_id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "failed");
    assert!(
        done["error"].as_str().unwrap().contains("does not exist"),
        "{done}"
    );
    app.shutdown().await;
}
