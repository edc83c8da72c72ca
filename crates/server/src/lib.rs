//! preflight: production-readiness checklists made executable.
//!
//! The request path: `main` → [`cli`] → [`app::Application`] → [`startup::serve`] →
//! [`startup::router`] → a handler in [`auth`] or [`api`].
//!
//! Modules depend one way, top to bottom; `tests/module_graph.rs` proves there is no cycle and
//! holds the modules to these layers:
//!
//! | layer | owns |
//! |---|---|
//! | [`cli`] | the binary's commands; `serve` is [`app::Application`] |
//! | [`app`] | start-up in one place: every step `serve` takes |
//! | [`provision`] | the bootstrap admin and the built-in template |
//! | [`startup`] | router, OpenAPI document of the routes, middleware stack, listeners |
//! | [`web`] | the web UI: HTML pages over the API's functions, browser sessions' forms |
//! | [`api`] | resource handlers, their request/response types and validation |
//! | [`auth`] | who calls (JWT, API tokens), the per-caller rate limit, `/auth` handlers |
//! | [`health`], [`metrics`] | `/health/*`, `/metrics` |
//! | [`docs`], [`http`] | what OpenAPI operations share; extractors, middleware, rate limits |
//! | [`error`] | problem documents (`ApiError`), mapped from [`store::StoreError`] |
//! | [`write`] | the one write protocol: compare-and-set, audit entry, commit, cache invalidation |
//! | [`readiness`] | readiness of reviews and services, its cache and gauges |
//! | [`backup`] | backups, their runs and leases |
//! | [`store`] | persistence, one module per thing stored; `StoreError`, never HTTP |
//! | [`db`] | connections, migrations, entities, the audit-log writer, encrypted columns |
//! | [`state`] | the state handed to handlers and background tasks |
//! | [`keys`], [`telemetry`] | the keyring and development keys; logging |
//! | [`config`], [`request_context`], [`shutdown`] | settings; the request id; the stop signal |
//!
//! The product rules themselves (item states, scoring, merging reviews) are in
//! `preflight_domain`, below all of them.

pub mod api;
pub mod app;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod db;
pub mod docs;
pub mod error;
pub mod gate;
pub mod health;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod password_work;
pub mod provision;
pub mod readiness;
pub mod request_context;
pub mod runner;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod web;
pub mod write;
