//! The guard's configuration: tokens (from a flag, the environment or a file; redacted in every
//! `Debug` form) and the resolved [`Guard`]. The `serve` flags that fill it are in
//! `crate::cli`.

use std::path::Path;
use std::time::Duration;

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
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

/// Why the guard's settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the {what} token file {path}: {source}")]
    TokenFile {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("the {what} token is empty")]
    EmptyToken { what: &'static str },
    #[error("invalid CORS origin {0:?}")]
    CorsOrigin(String),
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

/// The token of a flag (or its environment variable), else of a file; `None` when neither is set.
pub fn token(
    value: Option<&Secret>,
    file: Option<&Path>,
    what: &'static str,
) -> Result<Option<Token>, SettingsError> {
    let text = match (value, file) {
        (Some(Secret(s)), _) => s.clone(),
        (None, Some(path)) => {
            std::fs::read_to_string(path).map_err(|source| SettingsError::TokenFile {
                what,
                path: path.display().to_string(),
                source,
            })?
        }
        (None, None) => return Ok(None),
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(SettingsError::EmptyToken { what });
    }
    Ok(Some(Token::new(text)))
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
        let parsed = token(None, Some(&path), "API").unwrap().unwrap();
        assert!(parsed.matches(b"abc"));
        std::fs::write(&path, " \n").unwrap();
        assert!(token(None, Some(&path), "API").is_err());
        let missing = token(None, Some(&dir.path().join("nope")), "API").unwrap_err();
        assert!(missing.to_string().contains("cannot read"), "{missing}");
    }
}
