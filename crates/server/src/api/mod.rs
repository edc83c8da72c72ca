//! Resource endpoints under `/api/v1` (auth endpoints live in [`crate::auth`]).

pub mod audit;
pub mod checklists;
pub mod etag;
pub mod readiness;
pub mod review_items;
pub mod review_state;
pub mod reviews;
pub mod service_fields;
pub mod services;
pub mod support;
pub mod users;
