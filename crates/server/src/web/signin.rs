//! Sign-in and sign-out. The sign-in form is protected against login CSRF by a double-submit
//! token (a random cookie of the form's own, echoed in a hidden field); the attempt itself
//! goes through the API's login check, under the same rate limits.

use axum::Form;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::{Layout, WebResult, WebUser, local_path, render, see_other, signed_in};
use crate::auth::browser::{self, tokens_match};
use crate::auth::session::{LoginRequest, verify_login};
use crate::http::extract::ClientIp;
use crate::state::AppState;

/// Cookie of the sign-in form's double-submit token.
const LOGIN_COOKIE: &str = "preflight_login";

/// `/`: the overview when signed in, else the sign-in page.
pub async fn root(req: Request) -> Response {
    if signed_in(req.extensions()).is_some() {
        see_other("/services")
    } else {
        see_other("/login")
    }
}

#[derive(Debug, Deserialize)]
pub struct NextParam {
    pub next: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    token: String,
    next: String,
    email: String,
    error: Option<String>,
}

fn login_page(
    state: &AppState,
    status: StatusCode,
    next: Option<String>,
    email: String,
    error: Option<String>,
) -> Response {
    let token = preflight_security::token::generate("")
        .plaintext
        .expose_secret()
        .to_owned();
    let mut res = render(
        status,
        &LoginPage {
            layout: Layout::new("Sign in", None, "login"),
            token: token.clone(),
            next: next.unwrap_or_default(),
            email,
            error,
        },
    );
    if let Some(cookie) = browser::set_cookie(
        &state.settings,
        LOGIN_COOKIE,
        &token,
        "/login",
        "Strict",
        600,
    ) {
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    res
}

/// `GET /login`.
pub async fn form(
    State(state): State<AppState>,
    Query(params): Query<NextParam>,
    req: Request,
) -> Response {
    let next = local_path(params.next.as_deref());
    if signed_in(req.extensions()).is_some() {
        return see_other(next.as_deref().unwrap_or("/services"));
    }
    login_page(&state, StatusCode::OK, next, String::new(), None)
}

#[derive(Debug, Deserialize)]
pub struct SignIn {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: String,
}

/// `POST /login`: a session cookie and on to the page asked for, or the form again saying why.
pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(body): Form<SignIn>,
) -> Response {
    let next = local_path(Some(&body.next));
    let cookie = browser::cookie_value(&headers, LOGIN_COOKIE).unwrap_or_default();
    if cookie.is_empty() || !tokens_match(&cookie, &body.token) {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            next,
            body.email,
            Some("The sign-in form expired. Please try again.".into()),
        );
    }
    let attempt = LoginRequest {
        email: body.email.clone(),
        password: body.password,
    };
    let user = match verify_login(&state, ip, Ok(attempt)).await {
        Ok(user) => user,
        Err(e) => {
            let mut res = login_page(
                &state,
                e.status,
                next,
                body.email,
                Some(e.detail.clone().unwrap_or_else(|| e.title.to_owned())),
            );
            // Retry-After and the rate-limit headers of a refused attempt.
            for (k, v) in e.headers {
                if k != header::WWW_AUTHENTICATE {
                    res.headers_mut().insert(k, v);
                }
            }
            return res;
        }
    };
    let token = match browser::start(&state, user.id).await {
        Ok(token) => token,
        Err(e) => return super::WebError::from(e).into_response(),
    };
    let mut res = see_other(next.as_deref().unwrap_or("/services"));
    let lifetime = browser::lifetime_secs(&state.settings);
    for cookie in [
        browser::set_cookie(
            &state.settings,
            browser::COOKIE,
            &token,
            "/",
            "Lax",
            lifetime,
        ),
        browser::set_cookie(&state.settings, LOGIN_COOKIE, "", "/login", "Strict", 0),
    ]
    .into_iter()
    .flatten()
    {
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    res
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: the session ends on the server and the cookie is cleared.
pub async fn logout(
    State(state): State<AppState>,
    user: WebUser,
    Form(body): Form<CsrfOnly>,
) -> WebResult {
    user.check_csrf(&body.csrf)?;
    browser::end(&state, &user.session).await?;
    let mut res = see_other("/login");
    if let Some(cookie) = browser::set_cookie(&state.settings, browser::COOKIE, "", "/", "Lax", 0) {
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(res)
}
