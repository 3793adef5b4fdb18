//! The top-level error: what stops a command (or the collector) from starting or running. Each
//! layer below has its own error type ([`crate::store::Error`], [`crate::otlp::Error`],
//! [`crate::api::Error`], …); this one wraps them, and adds what only the command line meets
//! (bad arguments, files, a collector that cannot be reached), for the one line printed on exit.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An argument or setting that cannot be used as given.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error(transparent)]
    Prices(#[from] crate::pricing::PriceError),
    #[error(transparent)]
    Guard(#[from] crate::guard::SettingsError),
    #[error(transparent)]
    Spool(#[from] crate::spool::Error),
    #[error(transparent)]
    Report(#[from] crate::testreports::ReportError),
    #[error(transparent)]
    Root(#[from] crate::indexer::RootError),
    #[error(transparent)]
    Index(#[from] crate::indexer::Error),
    #[error(transparent)]
    Git(#[from] crate::context::GitError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot send to {url}: {message}")]
    Send { url: String, message: String },
    #[error("{url} refused ({status}): {message}")]
    Refused {
        url: String,
        status: u16,
        message: String,
    },
    #[error("target {0} is not registered; POST /api/db/targets first")]
    UnknownTarget(uuid::Uuid),
    #[error("interrupted by {0}")]
    Interrupted(&'static str),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Server(String),
}
