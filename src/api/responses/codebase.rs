//! Response bodies of the codebase endpoints, built from the store's rows (the rows
//! are not the wire format: a column can change without changing the API).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::IndexJobState;

#[derive(Debug, Serialize, ToSchema)]
pub struct IndexJob {
    pub id: Uuid,
    pub target_id: Uuid,
    pub state: IndexJobState,
    /// Files found so far, and files finished (reused, read or failed).
    pub files_seen: i64,
    pub files_done: i64,
    pub error: Option<String>,
    /// The index this job wrote, once succeeded.
    pub index_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<crate::store::codebase_jobs::IndexJob> for IndexJob {
    fn from(r: crate::store::codebase_jobs::IndexJob) -> Self {
        Self {
            id: r.id,
            target_id: r.target_id,
            state: r.state,
            files_seen: r.files_seen,
            files_done: r.files_done,
            error: r.error,
            index_id: r.index_id,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Target {
    pub id: Uuid,
    pub name: Option<String>,
    /// Canonical absolute path on the collector's host; the only tree a reindex reads.
    pub root_path: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_indexed_at: Option<DateTime<Utc>>,
    /// Estimated tokens (chars/4) of the latest index.
    pub index_size_tokens: Option<i32>,
    pub total_files: Option<i32>,
    pub total_loc: Option<i32>,
}

impl From<crate::store::codebase::Target> for Target {
    fn from(r: crate::store::codebase::Target) -> Self {
        Self {
            id: r.id,
            name: r.name,
            root_path: r.root_path,
            created_at: r.created_at,
            updated_at: r.updated_at,
            last_indexed_at: r.last_indexed_at,
            index_size_tokens: r.index_size_tokens,
            total_files: r.total_files,
            total_loc: r.total_loc,
        }
    }
}

/// One row of `codebase_indexes`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodebaseIndex {
    pub id: Uuid,
    pub target_id: Uuid,
    pub indexed_at: DateTime<Utc>,
    /// Text files counted (binary files are in `binary_files`).
    pub total_files: i32,
    /// PRD column (saturates at 2^31-1); `lines` is exact.
    pub total_lines: i32,
    pub lines: i64,
    pub code_lines: i64,
    pub comment_lines: i64,
    pub blank_lines: i64,
    pub total_size_bytes: i64,
    /// PRD column: estimated tokens, saturating; `tokens_estimate` is exact.
    pub index_size_tokens: i32,
    pub tokens_estimate: i64,
    /// `chars/4`: ceil(characters / 4) per file, the PRD's estimate (not a BPE count).
    pub token_method: String,
    pub build_duration_ms: Option<i32>,
    pub binary_files: i32,
    pub files_read: i32,
    pub files_reused: i32,
    /// Text files by extension, e.g. {"rs": 12, "md": 3}.
    pub file_types: Option<serde_json::Value>,
    /// Per language: files, lines, code, comments, blanks, bytes.
    pub languages: Option<serde_json::Value>,
    /// Top 10 text files by size.
    pub largest_files: Option<serde_json::Value>,
    /// Entries not counted, by kind (unreadable, vanished, escaping_symlink, ...), with examples.
    pub problems: Option<serde_json::Value>,
}

impl From<crate::store::codebase::CodebaseIndex> for CodebaseIndex {
    fn from(r: crate::store::codebase::CodebaseIndex) -> Self {
        Self {
            id: r.id,
            target_id: r.target_id,
            indexed_at: r.indexed_at,
            total_files: r.total_files,
            total_lines: r.total_lines,
            lines: r.lines,
            code_lines: r.code_lines,
            comment_lines: r.comment_lines,
            blank_lines: r.blank_lines,
            total_size_bytes: r.total_size_bytes,
            index_size_tokens: r.index_size_tokens,
            tokens_estimate: r.tokens_estimate,
            token_method: r.token_method,
            build_duration_ms: r.build_duration_ms,
            binary_files: r.binary_files,
            files_read: r.files_read,
            files_reused: r.files_reused,
            file_types: r.file_types,
            languages: r.languages,
            largest_files: r.largest_files,
            problems: r.problems,
        }
    }
}

/// A target's latest index, for the "largest codebases" list.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodebaseSize {
    pub target_id: Uuid,
    pub name: Option<String>,
    pub indexed_at: DateTime<Utc>,
    pub total_files: i32,
    pub lines: i64,
    pub total_size_bytes: i64,
    pub tokens_estimate: i64,
}

impl From<crate::store::codebase::CodebaseSize> for CodebaseSize {
    fn from(r: crate::store::codebase::CodebaseSize) -> Self {
        Self {
            target_id: r.target_id,
            name: r.name,
            indexed_at: r.indexed_at,
            total_files: r.total_files,
            lines: r.lines,
            total_size_bytes: r.total_size_bytes,
            tokens_estimate: r.tokens_estimate,
        }
    }
}
