//! Helpers shared by the checklist, service and review endpoints: Markdown bodies, content
//! negotiation, ETag responses and import errors as problems.

use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use preflight_domain::ImportError;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::etag::etag;
use crate::error::ApiError;

/// Largest Markdown document accepted (the seed checklists are ~10 KiB; the built-in
/// template ~15 KiB). Smaller than the global body limit so that a checklist can never
/// crowd out memory even when an operator raises `BODY_LIMIT_KB`.
pub const MAX_MARKDOWN_BYTES: usize = 512 * 1024;

pub const MARKDOWN_CONTENT_TYPE: &str = "text/markdown; charset=utf-8";

/// `?format=json|markdown` on reads that can answer either.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatParam {
    /// `markdown` answers the Markdown document (same as `Accept: text/markdown`).
    pub format: Option<Format>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Markdown,
}

/// Whether the client asked for Markdown (query parameter first, then `Accept`).
pub fn wants_markdown(headers: &HeaderMap, format: Option<Format>) -> bool {
    if let Some(f) = format {
        return f == Format::Markdown;
    }
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .any(|m| m == "text/markdown" || m == "text/x-markdown")
}

/// A Markdown document response.
pub fn markdown_response(text: impl Into<axum::body::Body>, version: Option<i32>) -> Response {
    let mut res = (StatusCode::OK, text.into()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(MARKDOWN_CONTENT_TYPE),
    );
    if let Some(v) = version {
        res.headers_mut().insert(header::ETAG, etag(v));
    }
    res.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    res
}

/// A JSON response carrying the resource version as its ETag.
pub fn json_with_etag<T: Serialize>(status: StatusCode, version: i32, body: T) -> Response {
    let mut res = (status, Json(body)).into_response();
    res.headers_mut().insert(header::ETAG, etag(version));
    res
}

/// Reads an uploaded Markdown document: `Content-Type: text/markdown` (or `text/plain`),
/// at most [`MAX_MARKDOWN_BYTES`], valid UTF-8. Control characters and the like are the
/// parser's business (it names line and column).
pub fn markdown_body(headers: &HeaderMap, body: &Bytes) -> Result<String, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut parts = content_type.split(';').map(str::trim);
    let media = parts.next().unwrap_or("");
    if !matches!(media, "text/markdown" | "text/x-markdown" | "text/plain") {
        return Err(
            ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE).detail(format!(
                "send the checklist as Content-Type: text/markdown (got {})",
                if media.is_empty() { "none" } else { media }
            )),
        );
    }
    let charset = parts
        .filter_map(|p| p.strip_prefix("charset="))
        .map(|c| c.trim_matches('"'))
        .next();
    if let Some(charset) = charset
        && !charset.eq_ignore_ascii_case("utf-8")
        && !charset.eq_ignore_ascii_case("utf8")
    {
        return Err(ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .detail(format!("only UTF-8 is accepted (got charset={charset})")));
    }
    if body.len() > MAX_MARKDOWN_BYTES {
        return Err(
            ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE).detail(format!(
                "a checklist may be at most {} KiB; this one is {} KiB",
                MAX_MARKDOWN_BYTES / 1024,
                body.len().div_ceil(1024)
            )),
        );
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::validation("the document is empty"));
    }
    match std::str::from_utf8(body) {
        Ok(text) => Ok(text.to_owned()),
        Err(e) => {
            let offset = e.valid_up_to();
            let line = body[..offset].iter().filter(|b| **b == b'\n').count() + 1;
            Err(ApiError::bad_request(format!(
                "the document is not valid UTF-8 (line {line}, byte offset {offset}); \
                 save it as UTF-8 text"
            )))
        }
    }
}

/// An import error as a 422 naming the line and the problem.
pub fn import_problem(e: &ImportError) -> ApiError {
    let field = match e.line() {
        Some(line) => format!("line {line}"),
        None => "document".to_owned(),
    };
    ApiError::validation(format!("the checklist cannot be imported: {e}"))
        .field(field, e.to_string())
}
