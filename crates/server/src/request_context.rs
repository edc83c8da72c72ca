//! The request this task is serving, for the code that reports on it: problem documents and
//! log lines read its id here. The HTTP edge layer ([`crate::http::edge`]) sets it; code
//! outside a request sees `None`. The database layer never reads it: writes are handed the
//! request id explicitly (see [`crate::db::audit::Actor`]).

use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served by this task, if any.
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs `fut` as the request `id`.
pub async fn scope<F: Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}
