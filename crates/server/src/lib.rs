//! preflight: production-readiness checklists made executable.
//!
//! The request path: `main` → [`cli`] → [`startup::serve`] → [`startup::router`] → a handler in
//! [`auth`] or [`api`].

pub mod api;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod db;
pub mod docs;
pub mod error;
pub mod health;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod readiness_cache;
pub mod startup;
pub mod state;
pub mod telemetry;
