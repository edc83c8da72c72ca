//! sea-orm entities, one module per table.

pub mod api_token;
pub mod audit_log;
pub mod check_run;
pub mod check_schedule;
pub mod checklist;
pub mod refresh_token;
pub mod review;
pub mod review_item;
pub mod run_request;
pub mod run_request_item;
pub mod service;
pub mod service_owner;
pub mod user;
