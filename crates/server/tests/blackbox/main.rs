//! Black-box tests: the real binary, over HTTP, on a fresh database per test.

// Test code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

mod checklist_support;
mod harness;
mod private_servers;

mod auth;
mod backup;
mod check_cli;
mod checklists;
mod cli;
mod db_logging;
mod faults;
mod http;
mod observability;
mod ratelimit;
mod readiness;
mod readiness_cache;
mod replicas;
mod reviews;
mod runner;
mod schema;
mod security_auth;
mod security_checklists;
mod security_http;
mod security_input;
mod security_start;
mod services;
mod tls_redirect;
mod web;
