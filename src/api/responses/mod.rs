//! Every REST response body built from store rows, one module per resource; the handlers in
//! `api/` convert rows with `From`.

mod claude_metrics;
mod codebase;
mod context;
mod file_access;
mod retries;
mod sessions;
mod test_analysis;
mod test_runs;
mod token_usage;

/// Rows as response bodies.
pub fn all<R, T: From<R>>(rows: Vec<R>) -> Vec<T> {
    rows.into_iter().map(T::from).collect()
}

pub use claude_metrics::*;
pub use codebase::*;
pub use context::*;
pub use file_access::*;
pub use retries::*;
pub use sessions::*;
pub use test_analysis::*;
pub use test_runs::*;
pub use token_usage::*;
