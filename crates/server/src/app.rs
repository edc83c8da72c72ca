//! Start-up in one place: every step `preflight serve` takes, in order, so that a test starts
//! exactly what production starts.
//!
//! [`Application::build`] refuses an insecure production configuration, fills in development
//! keys, installs the metrics recorder, connects to the database (applying migrations when
//! configured to) and to Redis, creates the bootstrap admin, installs or updates the built-in
//! template and binds the listener; [`Application::run_until_stopped`] starts the background
//! tasks and serves until SIGTERM or Ctrl-C, then drains.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use preflight_kv::{Cache, RateLimiter};
use preflight_security::JwtKeys;
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::state::{AppState, Inner};
use crate::{db, keys, provision, readiness, runner, startup};

/// How often the readiness gauges are recomputed without a write (expiring waivers).
const READINESS_REFRESH: Duration = Duration::from_secs(60);
/// How often the metrics exporter's upkeep (histogram decay) runs.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// The application, started and bound, not yet serving.
pub struct Application {
    state: AppState,
    listener: std::net::TcpListener,
    address: SocketAddr,
    started: Instant,
}

impl Application {
    /// Every start-up step up to serving; see the [module documentation](self).
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        let started = Instant::now();
        match settings.check_for_start() {
            Ok(warnings) => {
                for w in warnings {
                    tracing::warn!(problem = %w, "insecure setting (refused in production)");
                }
            }
            Err(e) => anyhow::bail!("refusing to start in production:\n{e}"),
        }
        keys::ensure_dev_keys(&mut settings)?;
        let metrics = crate::metrics::install();
        // Migrations and provisioning take turns with other replicas starting at the same
        // moment (PostgreSQL); the lock is released before serving.
        let lock = db::StartupLock::acquire(&settings.db)
            .await
            .context("taking the start-up lock")?;
        let state = connect(settings, metrics).await?;
        provision::bootstrap_admin(
            &state.db,
            &state.settings.admin_email,
            state.settings.admin_password.expose_secret(),
        )
        .await
        .context("creating the bootstrap admin")?;
        if state.settings.environment == crate::config::Environment::Production {
            let weak = provision::admins_with_default_password(&state.db).await?;
            anyhow::ensure!(
                weak.is_empty(),
                "refusing to start in production: the admin account(s) {} still have the \
                 development password; change it (`preflight admin reset-password`) first",
                weak.join(", ")
            );
        }
        if let Some(id) = provision::seed_builtin(&state.db).await? {
            crate::api::checklists::forget_markdown(&state, id).await;
        }
        if let Some(lock) = lock {
            lock.release()
                .await
                .context("releasing the start-up lock")?;
        }
        let listener = startup::bind(&state.settings)?;
        let address = listener.local_addr()?;
        Ok(Self {
            state,
            listener,
            address,
            started,
        })
    }

    /// The address the listener is bound to (`PORT=0` picks a free port).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The port the listener is bound to.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The state handlers and background tasks share.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Starts the background tasks (readiness gauges, metrics upkeep, the check runner) and
    /// serves until a shutdown signal, then drains in-flight requests and check runs (each
    /// bounded by `SHUTDOWN_TIMEOUT`).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Self {
            state,
            listener,
            started,
            ..
        } = self;
        // Readiness gauges from the database at start, then refreshed so expiring waivers show.
        readiness::gauges::spawn_refresher(state.clone(), READINESS_REFRESH);
        if let Some(h) = state.metrics.clone() {
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(METRICS_UPKEEP).await;
                    h.run_upkeep();
                }
            });
        }
        let runner = runner::spawn(state.clone())?;
        tracing::info!(
            environment = state.settings.environment.as_str(),
            startup_ms = started.elapsed().as_millis() as u64,
            "ready"
        );
        let served = startup::serve(state.clone(), listener).await;
        if let Some(runner) = runner {
            runner.shutdown(state.settings.shutdown_timeout).await;
        }
        served
    }
}

/// Connects to everything and assembles the state. Applies migrations when configured to,
/// and refuses to continue when the schema is behind.
async fn connect(
    settings: Settings,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
) -> anyhow::Result<AppState> {
    db::ensure_sqlite_dir(&settings.db.url).context("creating the SQLite directory")?;
    let conn = db::connect(&settings.db)
        .await
        .context("connecting to the database")?;
    if settings.migrate_on_start {
        db::migrate_up(&conn).await.context("applying migrations")?;
    } else {
        let pending = db::pending_migrations(&conn)
            .await
            .context("reading migration status")?;
        anyhow::ensure!(
            pending.is_empty(),
            "the database schema is behind ({} pending migration(s)); run `preflight migrate up`",
            pending.len()
        );
    }
    let secret = settings
        .secret_key
        .clone()
        .context("SECRET_KEY is not set")?;
    let jwt = JwtKeys::new(
        &secret,
        "preflight",
        "preflight-api",
        chrono::Duration::from_std(settings.access_token_ttl)
            .unwrap_or(chrono::Duration::minutes(15)),
    );
    let keyring = keys::keyring(&settings)?;
    let (cache, limiter) = match &settings.redis_url {
        Some(url) => {
            let manager = preflight_kv::connect_redis(url.expose_secret(), Duration::from_secs(5))
                .await
                .context("connecting to Redis")?;
            (
                Cache::redis("app", manager.clone(), &settings.redis_prefix),
                RateLimiter::redis(manager, &settings.redis_prefix),
            )
        }
        None => (
            Cache::in_process("app", 10_000, settings.cache_ttl),
            RateLimiter::in_process(),
        ),
    };
    Ok(AppState::new(Inner {
        settings,
        db: conn,
        jwt,
        keyring,
        cache,
        limiter,
        metrics,
        runs_requested: tokio::sync::Notify::new(),
    }))
}
