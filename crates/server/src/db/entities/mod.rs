//! sea-orm entities, one module per table.

pub mod api_token;
pub mod audit_log;
pub mod refresh_token;
pub mod user;
