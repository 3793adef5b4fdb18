//! The guard's configuration: `serve` flags, tokens (from a flag, the environment or a file;
//! redacted in every `Debug` form) and the resolved [`Guard`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A token given on the command line or in the environment. Its `Debug` form is redacted, so
/// logging the configuration cannot leak it.
#[derive(Clone)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(Secret(s.to_string()))
    }
}

/// `serve` flags for access control, limits and the spool.
#[derive(Debug, Clone, Args)]
pub struct GuardArgs {
    /// Bearer token OTLP exporters must send (HTTP `Authorization: Bearer …`, gRPC
    /// `authorization` metadata). Unset: ingest is open.
    #[arg(long, env = "ACD_INGEST_TOKEN", hide_env_values = true)]
    pub ingest_token: Option<Secret>,
    /// File holding the ingest token (surrounding whitespace ignored).
    #[arg(long, env = "ACD_INGEST_TOKEN_FILE", conflicts_with = "ingest_token")]
    pub ingest_token_file: Option<PathBuf>,
    /// Bearer token for the REST API (`/api/...`). Unset: the API is open.
    #[arg(long, env = "ACD_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<Secret>,
    /// File holding the API token.
    #[arg(long, env = "ACD_API_TOKEN_FILE", conflicts_with = "api_token")]
    pub api_token_file: Option<PathBuf>,
    /// `/metrics` needs the API token too.
    #[arg(long, env = "ACD_PROTECT_METRICS")]
    pub protect_metrics: bool,
    /// `/healthz` and `/readyz` need the API token too.
    #[arg(long, env = "ACD_PROTECT_HEALTH")]
    pub protect_health: bool,
    /// Refuse every mutating REST endpoint (reindex, target registration, uploads) with 403.
    #[arg(long, env = "ACD_READ_ONLY")]
    pub read_only: bool,
    /// Origins allowed to call the REST API from a browser (comma-separated, or `*`).
    #[arg(long, env = "ACD_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Seconds a request may take, body upload included.
    #[arg(long, env = "ACD_REQUEST_TIMEOUT_SECONDS", default_value_t = 30)]
    pub request_timeout_seconds: u64,
    /// OTLP requests processed at once (both transports); more get the retryable status.
    #[arg(long, env = "ACD_MAX_INFLIGHT_REQUESTS", default_value_t = 32)]
    pub max_inflight_requests: usize,
    /// Directory of the durable spool that keeps OTLP while PostgreSQL is down.
    #[arg(long, env = "ACD_SPOOL_DIR", default_value = "./.acd/spool")]
    pub spool_dir: PathBuf,
    /// Largest spool size in bytes; 0 turns the spool off (503 during outages).
    #[arg(long, env = "ACD_SPOOL_MAX_BYTES", default_value_t = 1 << 30)]
    pub spool_max_bytes: u64,
}

/// A configured token, kept only as its SHA-256 digest: comparing digests in constant time does
/// not leak the token's length or content through timing.
#[derive(Clone)]
pub struct Token([u8; 32]);

impl Token {
    pub fn new(token: &str) -> Self {
        Token(Sha256::digest(token.as_bytes()).into())
    }

    pub(super) fn matches(&self, presented: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented).into();
        digest.ct_eq(&self.0).into()
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The resolved guard settings (tokens loaded from their files).
#[derive(Debug, Clone)]
pub struct Guard {
    pub ingest_token: Option<Token>,
    pub api_token: Option<Token>,
    pub protect_metrics: bool,
    pub protect_health: bool,
    pub read_only: bool,
    pub cors_origins: Vec<String>,
    pub request_timeout: Duration,
    pub max_inflight_requests: usize,
}

impl Default for Guard {
    fn default() -> Self {
        Self {
            ingest_token: None,
            api_token: None,
            protect_metrics: false,
            protect_health: false,
            read_only: false,
            cors_origins: Vec::new(),
            request_timeout: Duration::from_secs(30),
            max_inflight_requests: 32,
        }
    }
}

fn token(
    value: &Option<Secret>,
    file: &Option<PathBuf>,
    what: &str,
) -> Result<Option<Token>, String> {
    let text = match (value, file) {
        (Some(Secret(s)), _) => s.clone(),
        (None, Some(path)) => read_token_file(path, what)?,
        (None, None) => return Ok(None),
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("the {what} token is empty"));
    }
    Ok(Some(Token::new(text)))
}

fn read_token_file(path: &Path, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the {what} token file {}: {e}", path.display()))
}

impl GuardArgs {
    pub fn resolve(&self) -> Result<Guard, String> {
        let guard = Guard {
            ingest_token: token(&self.ingest_token, &self.ingest_token_file, "ingest")?,
            api_token: token(&self.api_token, &self.api_token_file, "API")?,
            protect_metrics: self.protect_metrics,
            protect_health: self.protect_health,
            read_only: self.read_only,
            cors_origins: self.cors_origins.clone(),
            request_timeout: Duration::from_secs(self.request_timeout_seconds.max(1)),
            max_inflight_requests: self.max_inflight_requests.max(1),
        };
        guard.cors()?;
        Ok(guard)
    }
}

/// Adds `Authorization: Bearer $ACD_API_TOKEN` to a client request when that variable is set,
/// so `ingest --endpoint` and `run --endpoint` reach a collector whose API needs the token.
pub fn with_api_token(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match std::env::var("ACD_API_TOKEN") {
        Ok(token) if !token.trim().is_empty() => request.bearer_auth(token.trim()),
        _ => request,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_exactly_and_are_never_printed() {
        let token = Token::new("s3cret");
        assert!(token.matches(b"s3cret"));
        assert!(!token.matches(b"s3cre"));
        assert!(!token.matches(b"s3cret "));
        assert!(!token.matches(b""));
        let secret: Secret = "s3cret".parse().unwrap();
        assert!(!format!("{secret:?} {token:?}").contains("s3cret"));
    }

    #[test]
    fn token_files_are_trimmed_and_empty_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc\n").unwrap();
        let parsed = token(&None, &Some(path.clone()), "API").unwrap().unwrap();
        assert!(parsed.matches(b"abc"));
        std::fs::write(&path, " \n").unwrap();
        assert!(token(&None, &Some(path), "API").is_err());
        let missing = token(&None, &Some(dir.path().join("nope")), "API").unwrap_err();
        assert!(missing.contains("cannot read"), "{missing}");
    }
}
