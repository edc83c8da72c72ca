//! Building the application (state, router, middleware) and serving it with graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{delete, get, post};
use preflight_kv::{Cache, RateLimiter};
use preflight_security::{EncryptionKey, JwtKeys, Keyring};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::{Environment, Settings};
use crate::http::extract::TrustedProxies;
use crate::http::headers::HeaderPolicy;
use crate::state::{AppState, Inner};
use crate::{api, auth, db, health, http, metrics};

/// Connects to everything and assembles the state. Applies migrations when configured to,
/// and refuses to continue when the schema is behind.
pub async fn build_state(
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
    let keyring = keyring(&settings)?;
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
    }))
}

/// The encryption keyring from `ENCRYPTION_KEY` and `ENCRYPTION_KEY_PREVIOUS`.
pub fn keyring(settings: &Settings) -> anyhow::Result<Keyring> {
    let current = settings
        .encryption_key
        .as_ref()
        .context("ENCRYPTION_KEY is not set")?;
    let current = EncryptionKey::parse(current.expose_secret()).context("ENCRYPTION_KEY")?;
    let previous = settings
        .encryption_key_previous
        .iter()
        .map(|k| EncryptionKey::parse(k.expose_secret()))
        .collect::<Result<Vec<_>, _>>()
        .context("ENCRYPTION_KEY_PREVIOUS")?;
    Ok(Keyring::new(current, previous))
}

fn cors(settings: &Settings) -> CorsLayer {
    let origins: Vec<HeaderValue> = settings
        .allowed_origins
        .iter()
        .filter(|o| !o.contains('*'))
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_MATCH,
            HeaderName::from_static(http::request_id::HEADER),
        ])
        .expose_headers([
            header::ETAG,
            header::RETRY_AFTER,
            HeaderName::from_static(http::request_id::HEADER),
            HeaderName::from_static("ratelimit"),
            HeaderName::from_static("ratelimit-policy"),
        ])
        .max_age(Duration::from_secs(600))
}

/// The full router with every middleware, outermost last.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/auth/login", post(auth::session::login))
        .route("/auth/refresh", post(auth::session::refresh))
        .route("/auth/logout", post(auth::session::logout))
        .route("/me", get(auth::session::me))
        .route(
            "/me/tokens",
            get(auth::api_tokens::list).post(auth::api_tokens::create),
        )
        .route("/me/tokens/{id}", delete(auth::api_tokens::revoke))
        .route("/users", get(api::users::list).post(api::users::create))
        .route(
            "/users/{id}",
            get(api::users::get)
                .patch(api::users::update)
                .delete(api::users::delete),
        )
        .merge(checklist_routes());

    let routes = Router::new()
        .nest("/api/v1", api)
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(metrics::handler))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", crate::docs::openapi()))
        .fallback(http::problem::not_found);
    with_middleware(routes, state)
}

/// Wraps routes in the middleware stack every request goes through.
pub fn with_middleware(routes: Router<AppState>, state: AppState) -> Router {
    let settings = &state.settings;
    let hsts = settings.environment == Environment::Production && settings.https_configured();
    let trusted = TrustedProxies(Arc::new(settings.trusted_proxies.clone()));
    routes
        // Inner layers first. Problem rewriting sits outside everything that can produce a
        // bare error (body limits, timeout, panics) and inside metrics/logging, which then see
        // the final status.
        .layer(from_fn_with_state(
            state.clone(),
            http::ratelimit::middleware,
        ))
        .layer(from_fn_with_state(state.clone(), auth::authn::middleware))
        .layer(CatchPanicLayer::custom(http::problem::panic_response))
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(RequestBodyLimitLayer::new(settings.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            settings.request_timeout,
        ))
        .layer(from_fn(http::problem::middleware))
        .layer(from_fn(http::observe::middleware))
        .layer(CompressionLayer::new())
        .layer(cors(settings))
        .layer(from_fn_with_state(
            HeaderPolicy { hsts },
            http::headers::middleware,
        ))
        .layer(from_fn(http::request_id::middleware))
        .layer(axum::Extension(trusted))
        .with_state(state)
}

#[cfg(test)]
#[path = "startup_tests.rs"]
mod tests;

/// Checklists, services, reviews, readiness and the audit log.
fn checklist_routes() -> Router<AppState> {
    use axum::routing::put;
    Router::new()
        .route(
            "/checklists",
            get(api::checklists::list).post(api::checklists::create),
        )
        .route(
            "/checklists/{id}",
            get(api::checklists::get)
                .put(api::checklists::update)
                .delete(api::checklists::delete),
        )
        .route(
            "/checklists/{id}/items/{key}/check",
            put(api::checklists::put_item_check),
        )
        .route(
            "/services",
            get(api::services::list).post(api::services::create),
        )
        .route(
            "/services/{id}",
            get(api::services::get)
                .patch(api::services::update)
                .delete(api::services::delete),
        )
        .route(
            "/services/{id}/reviews",
            get(api::reviews::list).post(api::reviews::attach),
        )
        .route("/services/{id}/readiness", get(api::readiness::service))
        .route(
            "/reviews/{id}",
            get(api::reviews::get).delete(api::reviews::delete),
        )
        .route("/reviews/{id}/readiness", get(api::readiness::review))
        .route(
            "/reviews/{id}/items/{key}",
            get(api::review_items::get).post(api::review_items::act),
        )
        .route(
            "/reviews/{id}/items/{key}/check",
            put(api::review_items::put_check),
        )
        .route("/readiness", get(api::readiness::overview))
        .route("/audit", get(api::audit::list))
}

/// Resolves when SIGTERM or Ctrl-C arrives.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; draining in-flight requests");
}

/// Serves until a shutdown signal, then drains in-flight requests (bounded by
/// `SHUTDOWN_TIMEOUT`).
pub async fn serve(state: AppState) -> anyhow::Result<()> {
    if let (Some(cert), Some(key)) = (
        state.settings.tls_cert.clone(),
        state.settings.tls_key.clone(),
    ) {
        return serve_tls(state, &cert, &key).await;
    }
    let addr = state.settings.bind_addr();
    let shutdown_timeout = state.settings.shutdown_timeout;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    let app = router(state);
    tracing::info!(address = %local, tls = false, "preflight is listening");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = tx.send(());
    });
    let server = tokio::spawn(async move { server.await });
    // After the signal, give in-flight requests SHUTDOWN_TIMEOUT to finish.
    let mut server = server;
    tokio::select! {
        res = &mut server => { res??; }
        _ = async { let _ = rx.await; tokio::time::sleep(shutdown_timeout).await; } => {
            tracing::warn!("shutdown timeout reached; exiting with requests still in flight");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Native TLS (`TLS_CERT` / `TLS_KEY`, PEM) with the same graceful shutdown; axum-server does
/// the per-connection handshakes so a slow client cannot stall the accept loop.
async fn serve_tls(
    state: AppState,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<()> {
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
        .await
        .with_context(|| {
            format!(
                "loading TLS_CERT {} / TLS_KEY {}",
                cert.display(),
                key.display()
            )
        })?;
    let addr = state.settings.bind_addr();
    let shutdown_timeout = state.settings.shutdown_timeout;
    let listener = std::net::TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let app = router(state);
    let handle = axum_server::Handle::new();
    let signal_handle = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        signal_handle.graceful_shutdown(Some(shutdown_timeout));
    });
    tracing::info!(address = %local, tls = true, "preflight is listening");
    axum_server::from_tcp_rustls(listener, config)?
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .await?;
    tracing::info!("stopped");
    Ok(())
}
