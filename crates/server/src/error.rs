//! RFC 9457 problem details: every error a client sees, with a stable `type`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Prefix of every problem `type`; the suffix is a stable slug clients may match on.
pub const PROBLEM_BASE: &str = "urn:preflight:problem:";
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// Stable identifier of the kind of problem, e.g. `urn:preflight:problem:validation`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Field-level problems for validation errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request id, so a report can be matched with the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// One invalid field or parameter.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The error type of every handler.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: Option<String>,
    pub errors: Vec<FieldError>,
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, slug: &'static str, title: &'static str) -> Self {
        Self {
            status,
            slug,
            title,
            detail: None,
            errors: Vec::new(),
            headers: Vec::new(),
        }
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    pub fn field(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
        self
    }
    pub fn header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request").detail(detail)
    }
    pub fn validation(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Validation failed",
        )
        .detail(detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
        )
        .detail(detail)
        .header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden").detail(detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found").detail(detail)
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict").detail(detail)
    }
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition-failed",
            "Precondition failed",
        )
        .detail(detail)
    }
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
        )
        .detail(detail)
    }
    /// A server-side failure: the cause is logged, the client sees no internals.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
        )
    }

    /// The problem for a bare status code (used for framework-generated errors).
    pub fn from_status(status: StatusCode) -> Self {
        let (slug, title) = match status.as_u16() {
            400 => ("bad-request", "Bad request"),
            401 => ("unauthorized", "Authentication required"),
            403 => ("forbidden", "Forbidden"),
            404 => ("not-found", "Not found"),
            405 => ("method-not-allowed", "Method not allowed"),
            408 => ("request-timeout", "Request timeout"),
            409 => ("conflict", "Conflict"),
            412 => ("precondition-failed", "Precondition failed"),
            413 => ("payload-too-large", "Payload too large"),
            415 => ("unsupported-media-type", "Unsupported media type"),
            422 => ("validation", "Validation failed"),
            429 => ("rate-limited", "Too many requests"),
            503 => ("unavailable", "Service unavailable"),
            504 => ("timeout", "Request timed out"),
            s if s >= 500 => ("internal", "Internal server error"),
            _ => ("error", "Request failed"),
        };
        Self::new(status, slug, title)
    }

    pub fn to_problem(&self) -> Problem {
        Problem {
            type_: format!("{PROBLEM_BASE}{}", self.slug),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
            request_id: crate::request_context::request_id(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.to_problem();
        let mut res = (self.status, Json(problem)).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        for (k, v) in self.headers {
            res.headers_mut().insert(k, v);
        }
        res
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let detail = rejection.body_text();
        match rejection {
            JsonRejection::JsonDataError(_) => ApiError::validation(detail),
            JsonRejection::JsonSyntaxError(_) => ApiError::bad_request(detail),
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                    .detail("expected Content-Type: application/json")
            }
            _ => ApiError::from_status(status).detail(detail),
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        if let Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) = e.sql_err() {
            return ApiError::conflict("a resource with the same unique value already exists");
        }
        // The database is slow or away rather than the request wrong: a 503 the client may
        // retry, not a 500.
        if let Some(why) = unavailability(&e) {
            tracing::warn!(error = %e, "database unavailable");
            return ApiError::unavailable(why)
                .header(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        ApiError::internal(e)
    }
}

/// Why a database error means "unavailable": no connection within the acquire timeout, the
/// connection lost or ended by a server shutdown (SQLSTATE class 57P), or a statement cancelled
/// by `statement_timeout` (SQLSTATE 57014) or a lock wait past SQLite's busy timeout.
fn unavailability(e: &sea_orm::DbErr) -> Option<&'static str> {
    use sea_orm::{DbErr, RuntimeErr};
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => {
            Some("the database is not answering; retry shortly")
        }
        DbErr::Exec(RuntimeErr::SqlxError(se)) | DbErr::Query(RuntimeErr::SqlxError(se)) => {
            match se.as_database_error().and_then(|d| d.code()) {
                Some(code) if code == "57014" => {
                    Some("the database did not answer within the statement timeout")
                }
                // Sessions ended by a shutdown, a crash or an administrator, or the server
                // still starting (57P01-57P03): the database is away, not the request wrong.
                Some(code) if matches!(code.as_ref(), "57P01" | "57P02" | "57P03") => {
                    Some("the database ended the connection; retry shortly")
                }
                // SQLITE_BUSY, SQLITE_LOCKED: the busy timeout passed behind other writers.
                Some(code) if code == "5" || code == "6" => {
                    Some("the database is busy; retry shortly")
                }
                _ if matches!(
                    **se,
                    sea_orm::sqlx::Error::Io(_)
                        | sea_orm::sqlx::Error::PoolTimedOut
                        | sea_orm::sqlx::Error::PoolClosed
                ) =>
                {
                    Some("the database is not answering; retry shortly")
                }
                _ => None,
            }
        }
        _ => None,
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::NotFound(detail) => ApiError::not_found(detail),
            StoreError::Changed(_) => ApiError::conflict(e.to_string()),
            StoreError::Taken { field, message } => {
                ApiError::conflict(message.clone()).field(field, message)
            }
            StoreError::Conflict(detail) => ApiError::conflict(detail),
            StoreError::Db(e) => e.into(),
            StoreError::Corrupt { .. } | StoreError::Encode { .. } => ApiError::internal(e),
        }
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;
