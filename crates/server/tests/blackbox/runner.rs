//! The check runner: scheduled rounds, on-demand runs, waivers over failing checks, retention,
//! and several replicas on one PostgreSQL database.

mod exports;
mod monitoring;
mod replicas;
mod requests;
mod retention;
mod scheduled;
pub mod support;
