//! Black-box tests: the real binary, over HTTP, on a fresh database per test.

mod harness;

mod auth;
mod backup;
mod cli;
mod http;
mod observability;
mod ratelimit;
mod schema;
