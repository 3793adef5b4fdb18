//! The built-in explorer: a read-only browser UI served at `/`, its assets under `/ui/...`.
//!
//! The assets are plain ES modules and CSS in `assets/explorer/`, embedded in the binary with
//! `include_str!` so nothing is fetched at run time and `cargo build` needs no npm. The only
//! third-party file is Chart.js, vendored from npm (`assets/explorer/vendor/`, pinned by
//! `assets/explorer/package-lock.json`; `scripts/explorer-deps` proves the committed file
//! equals the pinned package's). The pages talk only to the REST API; `/api/explorer/config`
//! tells them what they cannot learn from it otherwise (read-only mode, whether a token is
//! needed). The page, its assets and that config are readable without the API token, so the page
//! can load and ask for the token; every data request still carries it.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::extract::Path;

/// The page and its assets (outside the OpenAPI document: not part of the REST API), and the
/// config the page reads.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .route("/", get(index))
        .route("/ui/{*file}", get(asset))
        .routes(routes!(config))
}

/// The embedded assets: (path under /ui/, content type, body).
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.js", JS, include_str!("../../assets/explorer/app.js")),
    ("api.js", JS, include_str!("../../assets/explorer/api.js")),
    ("dom.js", JS, include_str!("../../assets/explorer/dom.js")),
    (
        "overview.js",
        JS,
        include_str!("../../assets/explorer/overview.js"),
    ),
    (
        "sessions.js",
        JS,
        include_str!("../../assets/explorer/sessions.js"),
    ),
    (
        "session.js",
        JS,
        include_str!("../../assets/explorer/session.js"),
    ),
    (
        "tests.js",
        JS,
        include_str!("../../assets/explorer/tests.js"),
    ),
    (
        "codebase.js",
        JS,
        include_str!("../../assets/explorer/codebase.js"),
    ),
    (
        "context.js",
        JS,
        include_str!("../../assets/explorer/context.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/explorer/style.css"),
    ),
    (
        "vendor/chart.umd.min.js",
        JS,
        include_str!("../../assets/explorer/vendor/chart.umd.min.js"),
    ),
];

const JS: &str = "text/javascript; charset=utf-8";
const INDEX: &str = include_str!("../../assets/explorer/index.html");

/// Paths the guard lets through without the API token: the page must load to ask for it.
pub fn is_public(path: &str) -> bool {
    path == "/" || path == "/api/explorer/config" || path.starts_with("/ui/")
}

fn respond(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Assets change only with the binary; revalidating each load keeps an upgrade visible.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
        ),
    );
    response
}

pub async fn index() -> Response {
    respond("text/html; charset=utf-8", INDEX)
}

pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, ..)| *name == file) {
        Some((_, content_type, body)) => respond(content_type, body),
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": format!("no explorer asset {file:?}") })),
        )
            .into_response(),
    }
}

/// What the explorer needs to know about this collector before its first data request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplorerConfig {
    /// Mutating endpoints are refused (`--read-only`): the page hides the reindex button.
    pub read_only: bool,
    /// The REST API wants a bearer token (`--api-token`): the page asks for it once.
    pub auth_required: bool,
    pub version: &'static str,
}

#[utoipa::path(get, path = "/api/explorer/config", tag = "explorer",
    responses((status = 200, body = ExplorerConfig)))]
pub async fn config(State(state): State<ApiState>) -> Json<ExplorerConfig> {
    Json(ExplorerConfig {
        read_only: state.read_only,
        auth_required: state.auth_required,
        version: env!("CARGO_PKG_VERSION"),
    })
}
