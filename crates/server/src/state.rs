//! Shared application state handed to every handler.

use std::ops::Deref;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use preflight_kv::{Cache, RateLimiter};
use preflight_security::{JwtKeys, Keyring};
use sea_orm::DatabaseConnection;

use crate::config::Settings;

/// Cheap to clone: everything lives behind one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub settings: Settings,
    pub db: DatabaseConnection,
    pub jwt: JwtKeys,
    pub keyring: Keyring,
    pub cache: Cache,
    pub limiter: RateLimiter,
    pub metrics: Option<PrometheusHandle>,
    /// Woken when runs are requested, so this replica's check runner claims them at once
    /// instead of at its next tick.
    pub runs_requested: tokio::sync::Notify,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
