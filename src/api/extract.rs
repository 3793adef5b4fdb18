//! Extractors whose rejections are this API's JSON 400s, and id parsing.

use axum::extract::{FromRequest, FromRequestParts};
use uuid::Uuid;

use super::Error;

/// `axum::extract::Query` answering malformed query strings with a JSON 400.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct Query<T>(pub T);

/// `axum::extract::Path` answering malformed paths with a JSON 400.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct Path<T>(pub T);

/// `axum::Json` answering bad bodies with a JSON 400 (413 too large, 415 not JSON).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Error))]
pub struct Json<T>(pub T);

pub fn parse_id(what: &str, raw: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(raw)
        .map_err(|_| Error::BadRequest(format!("malformed {what} id {raw:?}: expected a UUID")))
}

/// `?days=N`, 1 to 365, default 7.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct DaysQuery {
    /// Look-back window in days (1–365, default 7).
    pub days: Option<u32>,
}

impl DaysQuery {
    pub fn since(&self) -> Result<(u32, chrono::DateTime<chrono::Utc>), Error> {
        let days = self.days.unwrap_or(7);
        if !(1..=365).contains(&days) {
            return Err(Error::BadRequest(format!(
                "days must be between 1 and 365, got {days}"
            )));
        }
        Ok((
            days,
            chrono::Utc::now() - chrono::Duration::days(i64::from(days)),
        ))
    }
}
