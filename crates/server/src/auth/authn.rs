//! Resolves the caller once per request from `Authorization: Bearer ...`: a JWT access token
//! (verified in memory) or a personal API token (looked up by its hash); for pages outside
//! `/api/`, the browser session cookie ([`super::browser`]). Then counts the request against
//! the caller's rate limit ([`super::limit`]): one middleware for both, since each layer costs
//! every request a boxed clone of the routes inside it.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;

use super::{AuthUser, Authentication, Credential, Role, Scope, standing};
use crate::state::AppState;
use crate::store::api_tokens;

/// Prefix of personal API tokens.
pub const API_TOKEN_PREFIX: &str = "pfa_";

pub async fn middleware(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned());
    let auth = match bearer {
        // Pages (never the API) take the browser session cookie.
        None if !req.uri().path().starts_with("/api/") => {
            match super::browser::cookie_value(req.headers(), super::browser::COOKIE) {
                Some(token) => {
                    let (auth, session) = super::browser::resolve(&state, &token).await;
                    if let Some(session) = session {
                        req.extensions_mut().insert(session);
                    }
                    auth
                }
                None => Authentication::Anonymous,
            }
        }
        None => Authentication::Anonymous,
        Some(token) if token.starts_with(API_TOKEN_PREFIX) => api_token_auth(&state, &token).await,
        Some(token) => jwt_auth(&state, &token).await,
    };
    req.extensions_mut().insert(auth);
    super::limit::run(&state, req, |req| next.run(req)).await
}

async fn jwt_auth(state: &AppState, token: &str) -> Authentication {
    let Ok(claims) = state.jwt.verify(token) else {
        return Authentication::Invalid("access token is invalid or expired");
    };
    // Every access token belongs to a login; one without is not ours to honour.
    let Some(sid) = claims.sid else {
        return Authentication::Invalid("access token has malformed claims");
    };
    // The role and the token's validity come from the database (briefly cached), not the
    // claims: a demotion, disabling, new password or logout must take effect at once.
    let standing = match standing::of_session(state, claims.sub, sid).await {
        Ok(Some(s)) => s,
        Ok(None) => return Authentication::Invalid("access token has been revoked"),
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            return Authentication::Unavailable;
        }
    };
    let Ok(role) = standing.role.parse::<Role>() else {
        return Authentication::Invalid("the token's owner has an unknown role");
    };
    Authentication::Authenticated(AuthUser {
        user_id: claims.sub,
        email: standing.email,
        role,
        credential: Credential::Session,
    })
}

async fn api_token_auth(state: &AppState, token: &str) -> Authentication {
    let hash = preflight_security::hash_token(token);
    let tok = match standing::of_api_token(state, &hash).await {
        Ok(Some(tok)) => tok,
        Ok(None) => return Authentication::Invalid("API token is not valid"),
        // The database is away: the token may well be good, so not a 401 (clients would
        // take it for a revoked token) but a 503 to retry, as for access tokens.
        Err(e) => {
            tracing::error!(error = %e, "API token lookup failed");
            return Authentication::Unavailable;
        }
    };
    let now = Utc::now();
    if tok.revoked {
        return Authentication::Invalid("API token has been revoked");
    }
    if tok.expires_at.is_some_and(|e| e <= now) {
        return Authentication::Invalid("API token has expired");
    }
    if tok.owner_disabled {
        return Authentication::Invalid("the token's owner is disabled");
    }
    let Ok(role) = tok.role.parse::<Role>() else {
        return Authentication::Invalid("the token's owner has an unknown role");
    };
    // Writing on every request would turn reads into writes; a minute's precision is enough.
    if tok
        .last_used_at
        .is_none_or(|t| now - t > chrono::Duration::seconds(60))
    {
        match api_tokens::touch(&state.db, tok.token_id, now).await {
            // The cached copy still has the old time: drop it, or every request would write.
            Ok(()) => standing::forget_api_tokens(state).await,
            Err(e) => tracing::warn!(error = %e, "could not record API token use"),
        }
    }
    Authentication::Authenticated(AuthUser {
        user_id: tok.owner_id,
        email: tok.email,
        role,
        credential: Credential::ApiToken {
            id: tok.token_id,
            scopes: Scope::parse_list(&tok.scopes),
        },
    })
}
