//! HTTP plumbing: middleware and extractors shared by every route.

pub mod edge;
pub mod extract;
pub mod headers;
pub mod observe;
pub mod pagination;
pub mod problem;
pub mod ratelimit;
pub mod request_id;
