//! The web UI: server-rendered HTML pages (askama templates under `templates/`) over the same
//! stores, write protocol and readiness code as the JSON API — every write a page makes goes
//! through the function the API handler uses, with the same role checks.
//!
//! Pages are not API operations: they are mounted by [`crate::startup::router`] beside the
//! documented routes, and listed in [`ROUTES`] so that the router test holds them to what is
//! served. The browser signs in with a cookie session ([`crate::auth::browser`]); every form
//! that changes state carries the session's CSRF token. Every page answers
//! `Cache-Control: no-store` under a strict Content-Security-Policy (no inline script or
//! style); the stylesheet is embedded and served under a content-hashed name, cached for a year.

mod admin;
mod assets;
mod checklists;
mod runs;
mod services;
mod signin;
mod views;

use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::auth::browser::{BrowserSession, tokens_match};
use crate::auth::{AuthUser, Authentication, Role};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::StoreError;

/// Every (method, path) the web UI serves. Not API operations, so not in the OpenAPI document;
/// `routes_tests.rs` holds this list to what the router serves.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/assets/{file}"),
    ("GET", "/services"),
    ("GET", "/services/new"),
    ("POST", "/services/new"),
    ("GET", "/services/{id}"),
    ("POST", "/services/{id}/attach"),
    ("POST", "/reviews/{id}/items"),
    ("GET", "/reviews/{id}/export"),
    ("POST", "/services/{id}/run"),
    ("POST", "/reviews/{id}/run"),
    ("GET", "/runs/{id}"),
    ("GET", "/check-runs/{id}"),
    ("GET", "/checklists"),
    ("POST", "/checklists/import"),
    ("GET", "/checklists/{id}"),
    ("POST", "/checklists/{id}/attach"),
    ("GET", "/checklists/{id}/export"),
    ("GET", "/audit"),
    ("GET", "/admin/users"),
    ("POST", "/admin/users"),
    ("POST", "/admin/users/{id}"),
    ("GET", "/account"),
    ("POST", "/account/tokens"),
    ("POST", "/account/tokens/{id}/revoke"),
];

/// The pages' routes (see [`ROUTES`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(signin::root))
        .route("/login", get(signin::form).post(signin::submit))
        .route("/logout", post(signin::logout))
        .route("/services", get(services::overview))
        .route(
            "/services/new",
            get(services::new_form).post(services::create),
        )
        .route("/services/{id}", get(services::page))
        .route("/services/{id}/attach", post(services::attach))
        .route("/reviews/{id}/items", post(services::act))
        .route("/reviews/{id}/export", get(services::export))
        .route("/services/{id}/run", post(runs::run_service))
        .route("/reviews/{id}/run", post(runs::run_item))
        .route("/runs/{id}", get(runs::run_page))
        .route("/check-runs/{id}", get(runs::check_run_page))
        .route("/checklists", get(checklists::library))
        .route("/checklists/import", post(checklists::import))
        .route("/checklists/{id}", get(checklists::page))
        .route("/checklists/{id}/attach", post(checklists::attach))
        .route("/checklists/{id}/export", get(checklists::export))
        .route("/audit", get(admin::audit))
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route("/admin/users/{id}", post(admin::update_user))
        .route("/account", get(admin::account))
        .route("/account/tokens", post(admin::create_token))
        .route("/account/tokens/{id}/revoke", post(admin::revoke_token))
        .layer(from_fn(page_headers))
        // The stylesheet is cached for a year under its hashed name; it is outside the
        // no-store layer.
        .route("/assets/{file}", get(assets::serve))
}

/// The policy of every page: nothing but this origin's stylesheet and forms to this origin.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Pages are personal and change with every write: never stored by the browser or a proxy
/// (so that back-navigation after sign-out shows nothing), under [`PAGE_CSP`].
async fn page_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    res
}

/// A signed-in browser: the user as the API's role checks see them, and their session.
#[derive(Debug, Clone)]
pub struct WebUser {
    pub auth: AuthUser,
    pub session: BrowserSession,
}

impl WebUser {
    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), WebError> {
        if tokens_match(&self.session.csrf, token.trim()) {
            Ok(())
        } else {
            Err(WebError::new(
                StatusCode::FORBIDDEN,
                "The form's security token is missing or out of date. Reload the page and try again.",
            ))
        }
    }
}

/// The signed-in browser of a request, if any.
pub fn signed_in(parts: &axum::http::Extensions) -> Option<WebUser> {
    match (parts.get::<Authentication>(), parts.get::<BrowserSession>()) {
        (Some(Authentication::Authenticated(auth)), Some(session)) => Some(WebUser {
            auth: auth.clone(),
            session: session.clone(),
        }),
        _ => None,
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebUser {
    type Rejection = Response;

    /// Without a session: to the sign-in page, coming back here afterwards (for a GET).
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(user) = signed_in(&parts.extensions) {
            return Ok(user);
        }
        let next = if parts.method == axum::http::Method::GET {
            parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default()
        } else {
            String::new()
        };
        let target = if next.is_empty() || next == "/" {
            "/login".to_owned()
        } else {
            format!(
                "/login?next={}",
                percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC)
            )
        };
        Err(Redirect::to(&target).into_response())
    }
}

/// A local path to go to after signing in: absolute, on this site, never `//host`.
pub fn local_path(next: Option<&str>) -> Option<String> {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .filter(|n| !n.chars().any(char::is_control))
        .map(str::to_owned)
}

/// What the shared layout shows: the stylesheet, who is signed in, what they may do, and the
/// CSRF token the page's forms carry.
pub struct Layout {
    pub title: String,
    pub css: &'static str,
    pub user: Option<String>,
    pub role: Option<Role>,
    pub csrf: String,
    pub nav: &'static str,
}

impl Layout {
    pub fn new(title: impl Into<String>, user: Option<&WebUser>, nav: &'static str) -> Self {
        Self {
            title: title.into(),
            css: assets::css_path(),
            user: user.map(|u| u.auth.email.clone()),
            role: user.map(|u| u.auth.role),
            csrf: user.map(|u| u.session.csrf.clone()).unwrap_or_default(),
            nav,
        }
    }
    /// Editors and admins change items, services and reviews.
    pub fn can_edit(&self) -> bool {
        self.role.is_some_and(|r| r >= Role::Editor)
    }
    /// Admins import checklists, grant waivers and manage users.
    pub fn is_admin(&self) -> bool {
        self.role == Some(Role::Admin)
    }
    pub fn role_name(&self) -> &'static str {
        self.role.map_or("", Role::as_str)
    }
}

/// Renders a template as an HTML response.
pub fn render(status: StatusCode, page: &impl askama::Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>Error</title><p>The page could not be shown.</p>"),
            )
                .into_response()
        }
    }
}

/// An error shown as a page: the status of the API's answer and its explanation.
#[derive(Debug)]
pub struct WebError {
    pub status: StatusCode,
    pub message: String,
    pub details: Vec<String>,
}

impl WebError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            details: Vec::new(),
        }
    }
    /// The message and each field's problem, in one line for a form.
    pub fn summary(&self) -> String {
        let mut out = self.message.clone();
        for d in &self.details {
            out.push_str(" — ");
            out.push_str(d);
        }
        out
    }
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        let message = e.detail.clone().unwrap_or_else(|| e.title.to_owned());
        Self {
            status: e.status,
            message,
            details: e
                .errors
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect(),
        }
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        ApiError::from(e).into()
    }
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    error: &'a WebError,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::UNAUTHORIZED {
            return Redirect::to("/login").into_response();
        }
        let title = self.status.canonical_reason().unwrap_or("Error").to_owned();
        render(
            self.status,
            &ErrorPage {
                layout: Layout::new(title, None, ""),
                error: &self,
            },
        )
    }
}

pub type WebResult<T = Response> = Result<T, WebError>;

/// The answer to a form that worked: see the result (303, so reloading does not resend).
pub fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(
            local_path(Some("/services?owner=a")).as_deref(),
            Some("/services?owner=a")
        );
        for other in [
            "//evil.example",
            "https://evil.example/",
            "/\\evil",
            "services",
            "/a\nb",
        ] {
            assert_eq!(local_path(Some(other)), None, "{other:?}");
        }
        assert_eq!(local_path(None), None);
    }
}
