//! Response bodies of the file access endpoints, built from the store's rows (the rows
//! are not the wire format: a column can change without changing the API).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::file_access as store_file_access;

/// One row of the hot-files list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HotFile {
    pub file_path: String,
    pub access_count: i32,
    pub last_accessed_at: Option<DateTime<Utc>>,
    /// Tokens of the file in the latest index (None: not indexed).
    pub avg_tokens: Option<i32>,
    /// In the LRU set (the most accessed files; set by the last plan or by this request).
    pub is_cached: bool,
}

impl From<store_file_access::HotFile> for HotFile {
    fn from(r: store_file_access::HotFile) -> Self {
        Self {
            file_path: r.file_path,
            access_count: r.access_count,
            last_accessed_at: r.last_accessed_at,
            avg_tokens: r.avg_tokens,
            is_cached: r.is_cached,
        }
    }
}
