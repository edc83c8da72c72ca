//! The HTTP server: the router (and the OpenAPI document of its routes), the middleware stack,
//! and serving with graceful shutdown. Start-up as a whole is [`crate::app::Application`].

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::{Environment, Settings};
use crate::http::extract::TrustedProxies;
use crate::http::headers::HeaderPolicy;
use crate::state::AppState;
use crate::{api, auth, docs, health, http, metrics, web};

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

/// Every documented route, each registered together with its OpenAPI operation: the resource
/// modules' routers under `/api/v1`, and health. `into_openapi()` is the served document.
pub fn documented_routes() -> OpenApiRouter<AppState> {
    let api = OpenApiRouter::new()
        .merge(auth::session::routes())
        .merge(auth::api_tokens::routes())
        .merge(api::users::routes())
        .merge(api::checklists::routes())
        .merge(api::services::routes())
        .merge(api::reviews::routes())
        .merge(api::review_items::routes())
        .merge(api::readiness::routes())
        .merge(api::runs::routes())
        .merge(api::audit::routes());
    let mut base = docs::ApiDoc::openapi();
    base.merge(api::Schemas::openapi());
    let mut routes = OpenApiRouter::with_openapi(base)
        .nest("/api/v1", api)
        .merge(health::routes());
    docs::add_shared_responses(routes.get_openapi_mut());
    routes
}

/// The whole document as `/openapi.json` serves it, built once per call (cheap; served rarely).
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented_routes().into_openapi()
}

/// Routes served but deliberately left out of the OpenAPI document, as (method, path): the
/// Prometheus exposition (for scrapers, behind its own `METRICS_TOKEN`, not part of the API)
/// and the documentation itself. Every other route is in [`documented_routes`]; the router test
/// (`routes_tests.rs`) holds the two lists to what the router serves.
pub const UNDOCUMENTED_ROUTES: &[(&str, &str)] = &[
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/"),
    ("GET", "/docs/{*rest}"),
];

/// The full router with every middleware, outermost last.
pub fn router(state: AppState) -> Router {
    let (documented, openapi) = documented_routes().split_for_parts();
    // Only the UNDOCUMENTED_ROUTES and the web UI's pages (web::ROUTES) are added here,
    // outside the document.
    let routes = documented
        .route("/metrics", get(metrics::handler))
        .merge(web::routes())
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .fallback(http::problem::not_found);
    with_middleware(routes, state)
}

/// Wraps routes in the middleware stack every request goes through.
pub fn with_middleware(routes: Router<AppState>, state: AppState) -> Router {
    let settings = &state.settings;
    let hsts = settings.environment == Environment::Production && settings.https_configured();
    let trusted = TrustedProxies(Arc::new(settings.trusted_proxies.clone()));
    routes
        // Inner layers first. The edge layer (request id, problem documents for bare errors,
        // security headers, metrics and the access log) is outermost: it sees the final
        // status of everything, CORS preflights and body-limit, timeout and panic answers
        // included.
        .layer(from_fn_with_state(state.clone(), auth::authn::middleware))
        .layer(CatchPanicLayer::custom(http::problem::panic_response))
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(RequestBodyLimitLayer::new(settings.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            settings.request_timeout,
        ))
        .layer(CompressionLayer::new())
        .layer(cors(settings))
        .layer(http::edge::EdgeLayer::new(HeaderPolicy { hsts }))
        .layer(axum::Extension(trusted))
        .with_state(state)
}

#[cfg(test)]
#[path = "startup_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "routes_tests.rs"]
mod routes_tests;

pub use crate::shutdown::signal as shutdown_signal;

/// Binds `HOST:PORT` (non-blocking, ready for [`serve`]); `PORT=0` picks a free port.
pub fn bind(settings: &Settings) -> anyhow::Result<std::net::TcpListener> {
    let addr = settings.bind_addr();
    let listener = std::net::TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves on `listener` (from [`bind`]) until a shutdown signal, then drains in-flight
/// requests (bounded by `SHUTDOWN_TIMEOUT`).
pub async fn serve(state: AppState, listener: std::net::TcpListener) -> anyhow::Result<()> {
    if let (Some(cert), Some(key)) = (
        state.settings.tls_cert.clone(),
        state.settings.tls_key.clone(),
    ) {
        return serve_tls(state, listener, &cert, &key).await;
    }
    let shutdown_timeout = state.settings.shutdown_timeout;
    let header_timeout = state.settings.header_read_timeout;
    let local = listener.local_addr()?;
    let app = router(state);
    let handle = axum_server::Handle::new();
    let signal_handle = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        // In-flight requests get SHUTDOWN_TIMEOUT to finish; then connections are closed.
        signal_handle.graceful_shutdown(Some(shutdown_timeout));
    });
    tracing::info!(address = %local, tls = false, "preflight is listening");
    let server = limit_slow_clients(axum_server::from_tcp(listener)?, header_timeout);
    server
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .await?;
    tracing::info!("stopped");
    Ok(())
}

/// Closes connections that do not send a complete request head within `timeout` (the first
/// request, protocol detection included, and each later request on a kept-alive
/// connection): a client trickling header bytes must not hold a connection for ever.
fn limit_slow_clients<A: axum_server::Address, Acc>(
    mut server: axum_server::Server<A, Acc>,
    timeout: Duration,
) -> axum_server::Server<A, Acc> {
    server.http_builder().http1().header_read_timeout(timeout);
    server.first_request_timeout(timeout)
}

/// Native TLS (`TLS_CERT` / `TLS_KEY`, PEM) with the same graceful shutdown; axum-server does
/// the per-connection handshakes so a slow client cannot stall the accept loop. With
/// `HTTP_REDIRECT_PORT`, a plain-HTTP listener on the same host redirects to HTTPS and stops
/// with the HTTPS server.
async fn serve_tls(
    state: AppState,
    listener: std::net::TcpListener,
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
    let shutdown_timeout = state.settings.shutdown_timeout;
    let state_header_timeout = state.settings.header_read_timeout;
    let local = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let redirect = match state.settings.http_redirect_port {
        Some(port) => Some(
            spawn_https_redirect(
                &state.settings,
                std::net::SocketAddr::new(state.settings.host, port),
                local.port(),
                stop_rx,
            )
            .await?,
        ),
        None => None,
    };
    let app = router(state);
    let handle = axum_server::Handle::new();
    let signal_handle = handle.clone();
    let stop_tx = Arc::new(stop_tx);
    let signal_stop = stop_tx.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        signal_stop.send_replace(true);
        signal_handle.graceful_shutdown(Some(shutdown_timeout));
    });
    tracing::info!(address = %local, tls = true, "preflight is listening");
    let header_timeout = state_header_timeout;
    let served = match axum_server::from_tcp_rustls(listener, config) {
        Ok(server) => limit_slow_clients(server, header_timeout)
            .handle(handle)
            .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .await
            .map_err(anyhow::Error::from),
        Err(e) => Err(e.into()),
    };
    // The HTTPS server has stopped (signal or error): the redirect listener stops too.
    stop_tx.send_replace(true);
    if let Some(redirect) = redirect {
        match tokio::time::timeout(shutdown_timeout, redirect).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the HTTP redirect listener failed"),
            Ok(Err(e)) => tracing::warn!(error = %e, "the HTTP redirect listener panicked"),
            Err(_) => tracing::warn!("shutdown timeout reached on the HTTP redirect listener"),
        }
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Where the plain-HTTP listener sends requests: HTTPS on `https_port` of the host the client
/// asked for.
#[derive(Debug, Clone)]
struct HttpsRedirect {
    https_port: u16,
    /// Host for requests without a Host header (HTTP/1.0): PUBLIC_URL's host, else the bound
    /// address when it is a specific one.
    fallback_host: Option<String>,
}

impl HttpsRedirect {
    fn new(settings: &Settings, https_port: u16) -> Self {
        let from_public = settings
            .public_url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_owned));
        let from_bind = (!settings.host.is_unspecified()).then(|| match settings.host {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            std::net::IpAddr::V4(ip) => ip.to_string(),
        });
        Self {
            https_port,
            fallback_host: from_public.or(from_bind),
        }
    }

    /// The HTTPS URL for a request, or why there is none. The host comes from the request
    /// (URI authority or Host header), without its port and never with user info.
    fn location(
        &self,
        uri: &axum::http::Uri,
        host_header: Option<&HeaderValue>,
    ) -> Result<String, &'static str> {
        let host = match (uri.authority(), host_header) {
            (Some(authority), _) => authority.host().to_owned(),
            (None, Some(value)) => {
                let text = value.to_str().map_err(|_| "the Host header is not text")?;
                if text.contains('@') {
                    return Err("the Host header is not a host name");
                }
                let authority: axum::http::uri::Authority = text
                    .parse()
                    .map_err(|_| "the Host header is not a host name")?;
                authority.host().to_owned()
            }
            (None, None) => self
                .fallback_host
                .clone()
                .ok_or("a Host header is required")?,
        };
        if host.is_empty() {
            return Err("the Host header is empty");
        }
        let port = if self.https_port == 443 {
            String::new()
        } else {
            format!(":{}", self.https_port)
        };
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        Ok(format!("https://{host}{port}{path}"))
    }
}

/// Every request: `308 Permanent Redirect` to the same host and path over HTTPS (308 keeps
/// the method and body, unlike 301).
async fn redirect_to_https(
    axum::extract::State(redirect): axum::extract::State<Arc<HttpsRedirect>>,
    req: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let location = redirect
        .location(req.uri(), req.headers().get(header::HOST))
        .and_then(|l| HeaderValue::from_str(&l).map_err(|_| "the Host header is not a host name"));
    match location {
        Ok(location) => (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response(),
        Err(why) => (StatusCode::BAD_REQUEST, why).into_response(),
    }
}

/// Binds the plain-HTTP redirect listener on `addr` and serves it until `stop` turns true.
async fn spawn_https_redirect(
    settings: &Settings,
    addr: std::net::SocketAddr,
    https_port: u16,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("binding {addr} (HTTP_REDIRECT_PORT)"))?;
    let local = listener.local_addr()?;
    let redirect = Arc::new(HttpsRedirect::new(settings, https_port));
    let app = Router::new()
        .fallback(redirect_to_https)
        .with_state(redirect)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            settings.request_timeout,
        ));
    tracing::info!(address = %local, https_port, "plain HTTP redirects to HTTPS");
    let handle = axum_server::Handle::new();
    let stop_handle = handle.clone();
    tokio::spawn(async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
        stop_handle.graceful_shutdown(None);
    });
    let server = limit_slow_clients(
        axum_server::from_tcp(listener)?,
        settings.header_read_timeout,
    )
    .handle(handle);
    Ok(tokio::spawn(async move {
        server.serve(app.into_make_service()).await
    }))
}

#[cfg(test)]
mod redirect_tests {
    use super::*;

    fn redirect(port: u16) -> HttpsRedirect {
        HttpsRedirect {
            https_port: port,
            fallback_host: Some("preflight.example.com".into()),
        }
    }

    fn host(text: &'static str) -> HeaderValue {
        HeaderValue::from_static(text)
    }

    #[test]
    fn keeps_host_path_and_query_and_swaps_the_port() {
        let r = redirect(8443);
        let uri: axum::http::Uri = "/api/v1/me?x=1".parse().unwrap();
        assert_eq!(
            r.location(&uri, Some(&host("localhost:8080"))),
            Ok("https://localhost:8443/api/v1/me?x=1".into())
        );
        assert_eq!(
            r.location(&uri, Some(&host("[::1]:8080"))),
            Ok("https://[::1]:8443/api/v1/me?x=1".into())
        );
        assert_eq!(
            redirect(443).location(&"/".parse().unwrap(), Some(&host("Example.com"))),
            Ok("https://Example.com/".into())
        );
    }

    #[test]
    fn without_a_usable_host() {
        let r = redirect(443);
        let uri: axum::http::Uri = "/x".parse().unwrap();
        assert_eq!(
            r.location(&uri, None),
            Ok("https://preflight.example.com/x".into())
        );
        assert!(r.location(&uri, Some(&host("evil@example.com"))).is_err());
        assert!(r.location(&uri, Some(&host("a b"))).is_err());
        let none = HttpsRedirect {
            https_port: 443,
            fallback_host: None,
        };
        assert!(none.location(&uri, None).is_err());
    }
}
