//! The OpenAPI document's frame (title, description) and what every operation may also answer.
//! Paths and schemas come from the handlers' `#[utoipa::path]`, collected by the resource
//! routers (`utoipa_axum::routes!`) merged in [`super::router`].

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get};
use utoipa::{Modify, OpenApi};

use super::ApiState;

#[derive(OpenApi)]
#[openapi(info(
    title = "acd-collector REST API",
    description = "Metrics of autonomous coding harness sessions"
))]
struct Frame;

/// The document before any route is added.
pub fn base() -> utoipa::openapi::OpenApi {
    Frame::openapi()
}

/// The merged routers' document with the guard's answers added to every operation (a
/// `modifiers(...)` on [`Frame`] would run before the routes exist).
pub fn finish(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    GuardResponses.modify(&mut document);
    document
}

/// `GET /api/openapi.json`: the document is fixed once the routers are built, so it is
/// serialised once.
pub fn serve(document: utoipa::openapi::OpenApi) -> MethodRouter<ApiState> {
    let body = axum::body::Bytes::from(
        serde_json::to_vec(&document).expect("an OpenAPI document always serialises"),
    );
    get(move || async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() })
}

/// What the guard ([`crate::guard`]) may answer on any operation, documented once: the optional
/// bearer token (401), the read-only switch on mutating operations (403) and the time-out (408).
struct GuardResponses;

impl Modify for GuardResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let error = |description: &str| -> RefOr<utoipa::openapi::Response> {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
                .into()
        };
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
        for item in openapi.paths.paths.values_mut() {
            let reads = item.get.iter_mut().map(|op| (op, false));
            let writes = item.post.iter_mut().map(|op| (op, true));
            for (operation, mutating) in reads.chain(writes) {
                let responses = &mut operation.responses.responses;
                responses.entry("401".into()).or_insert_with(|| {
                    error("Missing or wrong bearer token (when an API token is configured)")
                });
                responses
                    .entry("408".into())
                    .or_insert_with(|| error("The request took longer than the time-out"));
                if mutating {
                    responses.entry("403".into()).or_insert_with(|| {
                        error("Mutating endpoints are turned off (--read-only)")
                    });
                }
            }
        }
    }
}
