//! Browser sessions for the web pages. Signing in through the sign-in form sets a cookie that
//! holds an opaque session token, stored hashed in the same store as the API's refresh tokens
//! (a login family of its own, never rotated and never accepted by `/auth/refresh`). Signing
//! out revokes it on the server, so a copied cookie is worthless afterwards.
//!
//! The cookie is resolved by [`super::authn::middleware`] for pages only, never for `/api/`:
//! the JSON API takes bearer credentials alone, so no API call can be forged cross-site.
//! Every state-changing form carries a CSRF token derived from the session token (a
//! synchronizer token: unguessable without the cookie, and no two sessions share one).

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::Utc;
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::{AuthUser, Authentication, Credential, Role};
use crate::config::{Environment, Settings};
use crate::state::AppState;
use crate::store::{StoreResult, sessions, users};

/// Name of the session cookie.
pub const COOKIE: &str = "preflight_session";
/// Prefix of browser session tokens (refresh tokens are `pfr_`).
pub const SESSION_TOKEN_PREFIX: &str = "pfs_";

/// The browser session a page request came with (a request extension, beside the
/// [`Authentication`] it resolved to).
#[derive(Debug, Clone)]
pub struct BrowserSession {
    /// The login family in the session store; sign-out revokes it.
    pub family: Uuid,
    /// The CSRF token forms of this session must carry.
    pub csrf: String,
}

/// The CSRF token of a session: a hash of its token under a purpose of its own (the store
/// keeps another hash of the same token, so neither reveals the other).
pub fn csrf_token(session_token: &str) -> String {
    preflight_security::hash_token(&format!("preflight-csrf-v1:{session_token}"))
}

/// Compares two tokens in time independent of where they differ.
pub fn tokens_match(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite, `Secure` in production; `max_age` 0 deletes it.
pub fn set_cookie(
    settings: &Settings,
    name: &str,
    value: &str,
    path: &str,
    same_site: &str,
    max_age: i64,
) -> Option<HeaderValue> {
    let secure = if settings.environment == Environment::Production {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// How long a browser session lasts, in seconds (as long as a refresh token).
pub fn lifetime_secs(settings: &Settings) -> i64 {
    i64::try_from(settings.refresh_token_ttl.as_secs()).unwrap_or(14 * 24 * 3600)
}

/// Starts a session for `user_id`: the token for the cookie.
pub async fn start(state: &AppState, user_id: Uuid) -> StoreResult<String> {
    let generated = preflight_security::token::generate(SESSION_TOKEN_PREFIX);
    let expires = Utc::now() + chrono::Duration::seconds(lifetime_secs(&state.settings));
    sessions::insert(
        &state.db,
        user_id,
        Uuid::now_v7(),
        generated.hash.clone(),
        expires,
    )
    .await?;
    Ok(generated.plaintext.expose_secret().to_owned())
}

/// Ends a session on the server.
pub async fn end(state: &AppState, session: &BrowserSession) -> StoreResult<()> {
    sessions::revoke_family(&state.db, session.family).await
}

/// Who a session cookie belongs to, if it is a live session of an enabled user. The role is
/// read from the user record on every request, so a role change applies at once.
pub async fn resolve(state: &AppState, token: &str) -> (Authentication, Option<BrowserSession>) {
    if !preflight_security::token::looks_like(SESSION_TOKEN_PREFIX, token) {
        return (Authentication::Anonymous, None);
    }
    match lookup(state, token).await {
        Ok(Some((user, session))) => (Authentication::Authenticated(user), Some(session)),
        Ok(None) => (Authentication::Anonymous, None),
        Err(e) => {
            tracing::error!(error = %e, "browser session lookup failed");
            (
                Authentication::Invalid("the session could not be verified"),
                None,
            )
        }
    }
}

async fn lookup(state: &AppState, token: &str) -> StoreResult<Option<(AuthUser, BrowserSession)>> {
    let hash = preflight_security::hash_token(token);
    let Some(row) = sessions::find_by_hash(&state.db, &hash).await? else {
        return Ok(None);
    };
    if row.revoked_at.is_some() || row.used_at.is_some() || row.expires_at <= Utc::now() {
        return Ok(None);
    }
    let Some(user) = users::lookup(&state.db, row.user_id).await? else {
        return Ok(None);
    };
    let Ok(role) = user.role.parse::<Role>() else {
        return Ok(None);
    };
    if user.disabled {
        return Ok(None);
    }
    Ok(Some((
        AuthUser {
            user_id: user.id,
            email: user.email,
            role,
            credential: Credential::Session,
        },
        BrowserSession {
            family: row.family_id,
            csrf: csrf_token(token),
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_differ_per_session_and_compare_exactly() {
        let a = csrf_token("pfs_a");
        assert_ne!(a, csrf_token("pfs_b"));
        assert_ne!(a, preflight_security::hash_token("pfs_a"));
        assert!(tokens_match(&a, &csrf_token("pfs_a")));
        assert!(!tokens_match(&a, ""));
        assert!(!tokens_match(&a, &a[1..]));
    }

    fn settings(environment: &str) -> Settings {
        let env = [("ENVIRONMENT", environment)];
        Settings::from_lookup(|k| {
            env.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap()
    }

    #[test]
    fn the_cookie_is_http_only_same_site_and_secure_in_production() {
        let dev = set_cookie(&settings("development"), COOKIE, "pfs_x", "/", "Lax", 60).unwrap();
        let dev = dev.to_str().unwrap();
        assert!(
            dev.contains("HttpOnly") && dev.contains("SameSite=Lax"),
            "{dev}"
        );
        assert!(!dev.contains("Secure"), "plain HTTP in development: {dev}");
        let prod = set_cookie(&settings("production"), COOKIE, "pfs_x", "/", "Lax", 60).unwrap();
        assert!(prod.to_str().unwrap().ends_with("; Secure"), "{prod:?}");
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; preflight_session=pfs_x; b=2"),
        );
        assert_eq!(cookie_value(&h, COOKIE).as_deref(), Some("pfs_x"));
        assert_eq!(cookie_value(&h, "c"), None);
    }
}
