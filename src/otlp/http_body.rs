//! OTLP/HTTP request bodies: content type (protobuf or JSON), gzip, size limits on the wire and
//! after decompression; and encoding replies (responses and google.rpc.Status errors) in the
//! format the request used, as the OTLP specification requires.

use std::io::Read;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Error;
use crate::config::Limits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Protobuf,
    Json,
}

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";
/// Seconds an exporter should wait before retrying when the database is down.
const RETRY_AFTER_SECONDS: &str = "5";

impl Format {
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, Error> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        match essence.to_ascii_lowercase().as_str() {
            PROTOBUF | "application/protobuf" => Ok(Format::Protobuf),
            JSON => Ok(Format::Json),
            _ => Err(Error::UnsupportedContentType(content_type.to_string())),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Protobuf => "protobuf",
            Format::Json => "JSON",
        }
    }

    pub fn decode<T: prost::Message + Default + DeserializeOwned>(
        self,
        body: &[u8],
    ) -> Result<T, Error> {
        let result = match self {
            Format::Protobuf => T::decode(body).map_err(|e| e.to_string()),
            Format::Json => serde_json::from_slice(body).map_err(|e| e.to_string()),
        };
        result.map_err(|message| Error::Decode {
            format: self.name(),
            message,
        })
    }

    pub fn reply<T: prost::Message + Serialize>(self, status: StatusCode, message: &T) -> Response {
        let (content_type, body) = match self {
            Format::Protobuf => (PROTOBUF, message.encode_to_vec()),
            Format::Json => {
                let mut json =
                    serde_json::to_value(message).expect("OTLP messages always serialize");
                // Unset fields are omitted, not null (a full success is `{}`).
                if let serde_json::Value::Object(map) = &mut json {
                    map.retain(|_, v| !v.is_null());
                }
                (JSON, json.to_string().into_bytes())
            }
        };
        (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
    }

    /// An error reply: a google.rpc.Status in the request's format. The JSON form also carries an
    /// `error` field, like every other error body of this service.
    pub fn error(self, err: &Error) -> Response {
        let status = err.http_status();
        let rpc = RpcStatus {
            code: err.grpc_status().code() as i32,
            message: err.to_string(),
        };
        let mut response = match self {
            Format::Protobuf => self.reply(status, &rpc),
            Format::Json => (
                status,
                axum::Json(serde_json::json!({
                    "code": rpc.code, "message": rpc.message, "error": rpc.message,
                })),
            )
                .into_response(),
        };
        if matches!(err, Error::Unavailable(_) | Error::Overloaded(_)) {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        response
    }
}

/// The `google.rpc.Status` message (not part of opentelemetry-proto).
#[derive(Clone, PartialEq, prost::Message, Serialize)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// Reads the whole body within the wire limit, then gunzips it within the decompressed limit.
pub async fn read_body(headers: &HeaderMap, body: Body, limits: Limits) -> Result<Bytes, Error> {
    let too_large = Error::TooLarge {
        limit: limits.max_body_bytes,
        after: "",
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes) {
        return Err(too_large);
    }
    let raw = axum::body::to_bytes(body, limits.max_body_bytes)
        .await
        .map_err(|e| {
            let over = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if over {
                too_large
            } else {
                Error::Decode {
                    format: "HTTP body",
                    message: e.to_string(),
                }
            }
        })?;
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "" | "identity" => Ok(raw),
        "gzip" | "x-gzip" => gunzip(&raw, limits.max_decompressed_bytes),
        other => Err(Error::UnsupportedEncoding(other.to_string())),
    }
}

fn gunzip(raw: &[u8], limit: usize) -> Result<Bytes, Error> {
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(limit));
    // Read one byte past the limit to tell "exactly at the limit" from "over it".
    flate2::read::MultiGzDecoder::new(raw)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::Decode {
            format: "gzip",
            message: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(Error::TooLarge {
            limit,
            after: " after decompression",
        });
    }
    Ok(out.into())
}
