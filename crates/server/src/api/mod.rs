//! Resource endpoints under `/api/v1` (auth endpoints live in [`crate::auth`]).

pub mod etag;
pub mod users;
