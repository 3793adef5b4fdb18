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

/// The years a time parameter may name. PostgreSQL's `timestamptz` ends at 4713 BC and 294276
/// AD, and chrono parses far beyond both (`-4714-01-01T00:00:00Z`), so a time outside this range
/// reached the query and failed there as a 500; no session or run is from outside it.
pub const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// `#[serde(default, deserialize_with = "time")]`: an optional RFC 3339 time whose year is in
/// [`YEARS`]; anything else is the extractor's 400.
pub fn time<'de, D>(d: D) -> Result<Option<chrono::DateTime<chrono::Utc>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use chrono::Datelike;
    let value = <Option<chrono::DateTime<chrono::Utc>> as serde::Deserialize>::deserialize(d)?;
    match value {
        Some(t) if !YEARS.contains(&t.year()) => Err(serde::de::Error::custom(format!(
            "{t} is out of range: years {}–{} only",
            YEARS.start(),
            YEARS.end()
        ))),
        other => Ok(other),
    }
}

/// `#[serde(default, deserialize_with = "text")]`: an optional string without NUL characters,
/// which PostgreSQL refuses in `text` (a 500 before); a NUL is the extractor's 400.
pub fn text<'de, D>(d: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value = <Option<String> as serde::Deserialize>::deserialize(d)?;
    match value {
        Some(s) if s.contains('\0') => {
            Err(serde::de::Error::custom("must not contain NUL characters"))
        }
        other => Ok(other),
    }
}

/// The same check for a string already deserialized (request bodies): a 400 naming the field.
pub fn no_nul(field: &str, value: &str) -> Result<(), Error> {
    if value.contains('\0') {
        return Err(Error::BadRequest(format!(
            "{field} must not contain NUL characters"
        )));
    }
    Ok(())
}
