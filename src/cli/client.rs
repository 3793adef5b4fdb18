//! The one client of a running collector's REST API (`--endpoint`): a 60 s time-out, the
//! `ACD_API_TOKEN` bearer token when set, and one way of telling "could not send" from "the
//! collector refused" (with the reason from its JSON error body).

use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::Error;

pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    /// A client of the collector whose REST base URL is `endpoint` (e.g. http://localhost:9464).
    pub fn new(endpoint: &str) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Send {
                url: endpoint.to_string(),
                message: format!("HTTP client: {e}"),
            })?;
        Ok(Self {
            http,
            base: endpoint.trim_end_matches('/').to_string(),
        })
    }

    /// The URL of `path` with `query` encoded.
    pub fn url(&self, path: &str, query: &[(&str, String)]) -> Result<reqwest::Url, Error> {
        reqwest::Url::parse_with_params(&format!("{}{path}", self.base), query)
            .map_err(|e| Error::Usage(format!("bad --endpoint {:?}: {e}", self.base)))
    }

    /// POSTs a JSON body; the JSON answer.
    pub async fn post_json<T: DeserializeOwned>(
        &self,
        url: reqwest::Url,
        body: &impl serde::Serialize,
    ) -> Result<T, Error> {
        self.send(self.http.post(url.clone()).json(body), url).await
    }

    /// POSTs raw bytes of `content_type`; the JSON answer.
    pub async fn post_bytes<T: DeserializeOwned>(
        &self,
        url: reqwest::Url,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<T, Error> {
        let request = self
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        self.send(request, url).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        url: reqwest::Url,
    ) -> Result<T, Error> {
        let failed = |e: reqwest::Error| Error::Send {
            url: url.to_string(),
            message: e.to_string(),
        };
        let response = with_api_token(request).send().await.map_err(failed)?;
        let status = response.status();
        if !status.is_success() {
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            return Err(Error::Refused {
                url: url.to_string(),
                status: status.as_u16(),
                message: body["error"].as_str().unwrap_or("no reason given").into(),
            });
        }
        response.json().await.map_err(failed)
    }
}

/// Adds `Authorization: Bearer $ACD_API_TOKEN` when that variable is set, so `ingest --endpoint`
/// and `run --endpoint` reach a collector whose API needs the token.
fn with_api_token(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match std::env::var("ACD_API_TOKEN") {
        Ok(token) if !token.trim().is_empty() => request.bearer_auth(token.trim()),
        _ => request,
    }
}
