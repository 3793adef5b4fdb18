//! The top-level error: what can stop the collector from starting or running. Each layer has its
//! own error type ([`crate::store::Error`], [`crate::otlp::Error`], [`crate::api::Error`]); this one
//! only wraps them with context for the one line printed on exit.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error(transparent)]
    Ingest(#[from] crate::claude::ingest::Error),
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
