//! Persistence, one module per thing stored: what is read and written, and how, on either
//! database. Stores speak [`StoreError`], never HTTP: the API maps it to problem documents
//! (see [`crate::error`]), and code outside a request (start-up seeding, the background
//! readiness refresh, the CLI) matches on it directly.

pub mod api_tokens;
pub mod audit_log;
pub mod check_runs;
pub mod checklists;
pub mod monitoring;
pub mod reviews;
pub mod run_requests;
pub mod schedule;
pub mod services;
pub mod sessions;
pub mod users;
pub mod write;

use sea_orm::DbErr;

/// Why a store could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row, or it is deleted or archived; the text names it.
    #[error("{0}")]
    NotFound(String),
    /// The compare-and-set on the row's version touched nothing: someone changed it first.
    #[error("the {0} was changed concurrently; fetch it again")]
    Changed(&'static str),
    /// A unique index refused the value of `field` (e.g. a name already in use).
    #[error("{message}")]
    Taken {
        field: &'static str,
        message: String,
    },
    /// The stored data refuses the change; the text says why.
    #[error("{0}")]
    Conflict(String),
    /// A stored value does not decode: corruption or a server bug, never the caller's fault.
    #[error("stored {what} does not decode: {detail}")]
    Corrupt { what: String, detail: String },
    /// Encrypting or encoding a value to store failed.
    #[error("cannot encode {what}: {detail}")]
    Encode { what: &'static str, detail: String },
    #[error(transparent)]
    Db(#[from] DbErr),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Decodes a stored JSON column.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
    what: &str,
) -> StoreResult<T> {
    serde_json::from_value(value.clone()).map_err(|e| StoreError::Corrupt {
        what: what.to_owned(),
        detail: e.to_string(),
    })
}

/// Encodes a value for a JSON column.
pub(crate) fn encode<T: serde::Serialize>(
    value: &T,
    what: &'static str,
) -> StoreResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| StoreError::Encode {
        what,
        detail: e.to_string(),
    })
}

/// Escapes LIKE wildcards so a filter matches literally (with `ESCAPE '\'`).
pub fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[cfg(test)]
mod tests;
