//! Login, refresh-token rotation, logout and `/me`.
//!
//! Refresh tokens are opaque, stored as SHA-256 hashes, and rotate on every use. All tokens
//! descending from one login form a family: presenting an already-used token means it was
//! stolen or replayed, so the whole family is revoked.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{AuthUser, Role};
use crate::db::audit::Actor;
use crate::db::entities::user;
use crate::docs::problems;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, ClientIp};
use crate::http::ratelimit;
use crate::state::AppState;
use crate::store::{sessions, users};
use crate::write::Write;

/// Prefix of refresh tokens.
pub const REFRESH_TOKEN_PREFIX: &str = "pfr_";

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(example = "admin@preflight.local", min_length = 1, max_length = 320)]
    pub email: String,
    #[schema(format = Password, min_length = 1, max_length = 1024)]
    pub password: String,
}

/// Longest email and password a login accepts: longer ones are refused before any password
/// work (argon2's cost grows with the input).
const MAX_EMAIL_CHARS: usize = 320;
const MAX_PASSWORD_BYTES: usize = users::MAX_PASSWORD_BYTES;

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// A `pfr_` token from a login or an earlier refresh; at most 256 characters.
    #[schema(min_length = 1, max_length = 256)]
    pub refresh_token: String,
}

/// Longest refresh token looked up (also in the schema, held to it by routes_tests.rs); the
/// ones issued are 47 characters.
pub const MAX_REFRESH_TOKEN: usize = 256;

impl RefreshRequest {
    /// The presented token, trimmed; 422 when it is longer than any issued token can be.
    fn token(&self) -> ApiResult<&str> {
        let token = self.refresh_token.trim();
        if token.chars().count() > MAX_REFRESH_TOKEN {
            return Err(ApiError::validation("invalid refresh token").field(
                "refresh_token",
                format!("at most {MAX_REFRESH_TOKEN} characters"),
            ));
        }
        Ok(token)
    }
}

/// Tokens issued by login and refresh.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Lifetime of the access token in seconds.
    pub expires_in: i64,
}

/// The calling user.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub display_name: Option<String>,
    /// `session` or `api_token`.
    pub authenticated_with: &'static str,
}

async fn issue_tokens(
    state: &AppState,
    db: &impl sea_orm::ConnectionTrait,
    user: &user::Model,
    family: Uuid,
) -> ApiResult<TokenResponse> {
    let (access, expires_in) = state
        .jwt
        .issue_with_email(user.id, &user.role, &user.email, Some(family))
        .map_err(ApiError::internal)?;
    let generated = preflight_security::token::generate(REFRESH_TOKEN_PREFIX);
    let ttl = chrono::Duration::from_std(state.settings.refresh_token_ttl)
        .unwrap_or_else(|_| chrono::Duration::days(14));
    sessions::insert(
        db,
        user.id,
        family,
        generated.hash.clone(),
        Utc::now() + ttl,
    )
    .await?;
    Ok(TokenResponse {
        access_token: access,
        refresh_token: generated.plaintext.expose_secret().to_owned(),
        token_type: "Bearer",
        expires_in,
    })
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid email or password")
}

/// Login, refresh and logout under `/auth`, and `/me`.
/// Each handler is routed together with its `#[utoipa::path]` operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
}

#[utoipa::path(post, path = "/auth/login", operation_id = "login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 422, response = problems::ValidationFailed),
        (status = 429, response = problems::TooManyRequests)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<LoginRequest>, ApiError>,
) -> ApiResult<Json<TokenResponse>> {
    let user = verify_login(&state, ip, body.map(|ApiJson(b)| b)).await?;
    let tokens = issue_tokens(&state, &state.db, &user, Uuid::now_v7()).await?;
    Ok(Json(tokens))
}

/// Checks a sign-in attempt (the API's login and the web sign-in form alike) under the login
/// rate limits, per client address and per account, and answers the user it proves.
pub async fn verify_login(
    state: &AppState,
    ip: std::net::IpAddr,
    body: Result<LoginRequest, ApiError>,
) -> ApiResult<user::Model> {
    // Brute-force protection counts every attempt from the client's address, well-formed or
    // not, before the body is judged: malformed attempts must not be a free way to probe.
    let address = ip.to_string();
    let limits = &state.settings.rate_limit;
    ratelimit::enforce(state, "login_ip", &address, limits.login_address).await?;
    let body = body?;
    let email = body.email.trim().to_lowercase();
    if email.is_empty() || body.password.is_empty() {
        return Err(ApiError::validation("email and password are required"));
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(ApiError::validation("invalid login")
            .field("email", format!("at most {MAX_EMAIL_CHARS} characters")));
    }
    if body.password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::validation("invalid login")
            .field("password", format!("at most {MAX_PASSWORD_BYTES} bytes")));
    }
    // Then per account, still before any password work: per account and address, so guessing
    // from one address spends only that address's budget for the account; and a higher
    // ceiling per account from all addresses together, against guessing from many. Someone
    // guessing from elsewhere thus cannot lock the owner out unless they have more addresses
    // than the ceiling is times the per-address budget.
    ratelimit::enforce(
        state,
        "login_account_ip",
        &format!("{email} {address}"),
        limits.login,
    )
    .await?;
    ratelimit::enforce(state, "login_account", &email, limits.login_account).await?;

    let found = users::find_by_email(&state.db, &email).await?;
    let password = body.password;
    let candidate = found.clone();
    // Verify on the blocking pool, a few at a time: argon2 is deliberately slow and large.
    // Unknown users are checked against a dummy hash so timing does not reveal which emails
    // exist.
    let ok = crate::password_work::run(move || match &candidate {
        Some(u) => preflight_security::verify_password(&password, &u.password_hash),
        None => {
            preflight_security::dummy_verify(&password);
            false
        }
    })
    .await
    .map_err(ApiError::internal)?;
    let user = match found {
        Some(u) if ok && !u.disabled => u,
        _ => {
            metrics::counter!("preflight_auth_logins_total", "result" => "failure").increment(1);
            tracing::info!("login failed");
            return Err(invalid_credentials());
        }
    };
    metrics::counter!("preflight_auth_logins_total", "result" => "success").increment(1);
    tracing::info!(user_id = %user.id, "login succeeded");
    Ok(user)
}

#[utoipa::path(post, path = "/auth/refresh", operation_id = "refresh_session", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New token pair; the presented refresh token is spent", body = TokenResponse),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 422, response = problems::ValidationFailed)))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let presented = body.token()?;
    // Browser sessions live in the same store but are never exchanged for API tokens.
    if !presented.starts_with(REFRESH_TOKEN_PREFIX) {
        return Err(ApiError::unauthorized("refresh token is not valid"));
    }
    let hash = preflight_security::hash_token(presented);
    let txn = crate::db::begin_write(&state.db).await?;
    let Some(token) = sessions::find_by_hash(&txn, &hash).await? else {
        return Err(ApiError::unauthorized("refresh token is not valid"));
    };
    let now = Utc::now();
    if token.revoked_at.is_some() {
        return Err(ApiError::unauthorized("refresh token has been revoked"));
    }
    // Mark it used only if nobody else did: two concurrent refreshes cannot both win.
    if !sessions::claim(&txn, token.id, now).await? {
        // Nothing was written: give the rotation up and revoke the login, audited.
        txn.rollback().await?;
        let actor = Actor::system().in_request(crate::request_context::request_id());
        let write = Write::begin(&state.db, actor).await?;
        let change = sessions::revoke_reused(write.txn(), &token).await?;
        write.commit(change).await?;
        super::standing::forget_sessions(&state, token.user_id).await;
        tracing::warn!(user_id = %token.user_id, "refresh token reuse detected; session revoked");
        return Err(ApiError::unauthorized(
            "refresh token was already used; the session has been revoked",
        ));
    }
    if token.expires_at <= now {
        return Err(ApiError::unauthorized("refresh token has expired"));
    }
    let Some(user) = users::lookup(&txn, token.user_id).await? else {
        return Err(ApiError::unauthorized("refresh token is not valid"));
    };
    if user.disabled {
        return Err(ApiError::unauthorized("user is disabled"));
    }
    let tokens = issue_tokens(&state, &txn, &user, token.family_id).await?;
    txn.commit().await?;
    Ok(Json(tokens))
}

#[utoipa::path(post, path = "/auth/logout", operation_id = "logout", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 204, description = "The session (every refresh token and access token of this login) is revoked"),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 422, response = problems::ValidationFailed)))]
pub async fn logout(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<StatusCode> {
    let hash = preflight_security::hash_token(body.token()?);
    let Some(token) = sessions::find_by_hash(&state.db, &hash).await? else {
        return Err(ApiError::unauthorized("refresh token is not valid"));
    };
    sessions::revoke_family(&state.db, token.family_id).await?;
    // The login's access tokens stop working now, not when they expire.
    super::standing::forget_sessions(&state, token.user_id).await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/me", operation_id = "get_current_user", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The calling user", body = Me),
        (status = 401, response = problems::Unauthorized)))]
pub async fn me(State(state): State<AppState>, auth: AuthUser) -> ApiResult<Json<Me>> {
    let Some(u) = users::lookup(&state.db, auth.user_id).await? else {
        return Err(ApiError::unauthorized("user no longer exists"));
    };
    Ok(Json(Me {
        id: u.id,
        email: u.email,
        role: auth.role,
        display_name: u.display_name,
        authenticated_with: match auth.credential {
            super::Credential::Session => "session",
            super::Credential::ApiToken { .. } => "api_token",
        },
    }))
}
