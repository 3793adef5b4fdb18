//! The OpenAPI document, generated from the handlers' annotations.

use axum::Json;
use utoipa::OpenApi;

use super::{
    ErrorBody, claude_code_metrics, codebase, context, explorer, ingest, retries, sessions,
    targets, test_runs, tests, token_usage,
};
use crate::claude::model as claude;
use crate::ingest::IngestSummary;
use crate::store::claude_metrics::SeriesTotal;
use crate::store::retries::{FallbackPair, ModelRate, ReasonRate, RetryRow, SuccessAfter};
use crate::store::sessions::{ModelUsage, SessionSummary, TurnRow};
use crate::store::test_analysis::{
    FlakyRule, FlakyTest, Regression, SessionOutcome, TestHistoryRow, TestId,
};
use crate::store::test_runs::StoredTestRun;
use crate::store::token_usage::{DailyUsage, ModelTotals};

#[derive(OpenApi)]
#[openapi(
    modifiers(&GuardResponses),
    info(
        title = "acd-collector REST API",
        description = "Metrics of autonomous coding harness sessions"
    ),
    paths(
        sessions::list,
        sessions::show,
        sessions::turns,
        sessions::timing,
        claude_code_metrics::show,
        token_usage::over_time,
        token_usage::by_model,
        token_usage::efficiency,
        ingest::claude_run,
        targets::register,
        targets::list,
        codebase::reindex,
        codebase::job,
        codebase::show,
        codebase::largest,
        context::session,
        context::hot_files,
        context::optimize,
        test_runs::create,
        retries::history,
        retries::summary,
        tests::history,
        tests::flaky,
        tests::regressions,
        explorer::config,
    ),
    components(schemas(
        ErrorBody,
        explorer::ExplorerConfig,
        context::SessionContext,
        context::HotFiles,
        context::OptimizeRequest,
        context::OptimizeResponse,
        crate::store::context::TurnContextRow,
        crate::store::file_access::HotFile,
        crate::context::Plan,
        crate::context::PlannedFile,
        crate::context::Reason,
        crate::context::Segments,
        crate::context::plan::ScoreParts,
        crate::context::calibrate::Calibration,
        crate::context::Mix,
        crate::context::Weights,
        crate::context::truncate::LineRange,
        SessionSummary,
        ModelUsage,
        TurnRow,
        DailyUsage,
        ModelTotals,
        sessions::SessionPage,
        sessions::SessionDetail,
        sessions::TurnList,
        sessions::SessionTiming,
        sessions::TurnTiming,
        sessions::Percentiles,
        token_usage::UsageOverTime,
        token_usage::UsageByModel,
        token_usage::ModelBreakdown,
        token_usage::Efficiency,
        token_usage::EfficiencyTargets,
        claude_code_metrics::ClaudeCodeMetrics,
        SeriesTotal,
        IngestSummary,
        claude::ParsedRun,
        claude::SourceFormat,
        claude::ParsedTurn,
        claude::Usage,
        claude::OutputSource,
        claude::ParsedToolCall,
        claude::ParsedRetry,
        claude::ParsedCompaction,
        claude::ResultLine,
        claude::ModelUsage,
        targets::RegisterTarget,
        targets::TargetList,
        codebase::ReindexAccepted,
        codebase::CodebaseDetail,
        codebase::LargestCodebases,
        crate::store::codebase::Target,
        crate::store::codebase::CodebaseIndex,
        crate::store::codebase::CodebaseSize,
        crate::store::codebase_jobs::IndexJob,
        test_runs::TestRunResponse,
        StoredTestRun,
        retries::RetryHistory,
        retries::RetrySummary,
        retries::MaxRetries,
        RetryRow,
        ReasonRate,
        ModelRate,
        SuccessAfter,
        FallbackPair,
        tests::TestHistory,
        tests::FlakyTests,
        tests::Regressions,
        TestHistoryRow,
        FlakyTest,
        FlakyRule,
        SessionOutcome,
        Regression,
        TestId,
    ))
)]
pub struct ApiDoc;

/// What the guard ([`crate::guard`]) may answer on any operation, documented once: the optional
/// bearer token (401), the read-only switch on mutating operations (403) and the time-out (408).
struct GuardResponses;

impl utoipa::Modify for GuardResponses {
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

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
