//! Login, refresh-token rotation, logout and `/me`.
//!
//! Refresh tokens are opaque, stored as SHA-256 hashes, and rotate on every use. All tokens
//! descending from one login form a family: presenting an already-used token means it was
//! stolen or replayed, so the whole family is revoked.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait, sea_query::Expr,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{AuthUser, Role};
use crate::db::audit::{self, Actor};
use crate::db::entities::{refresh_token, user};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, ClientIp};
use crate::http::ratelimit;
use crate::state::AppState;

/// Prefix of refresh tokens.
pub const REFRESH_TOKEN_PREFIX: &str = "pfr_";

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(example = "admin@preflight.local")]
    pub email: String,
    #[schema(format = Password)]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
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
    let now = Utc::now();
    let ttl = chrono::Duration::from_std(state.settings.refresh_token_ttl)
        .unwrap_or_else(|_| chrono::Duration::days(14));
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user.id),
        family_id: Set(family),
        token_hash: Set(generated.hash.clone()),
        created_at: Set(now),
        expires_at: Set(now + ttl),
        used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
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

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 401, description = "Wrong email or password", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid body", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let email = body.email.trim().to_lowercase();
    if email.is_empty() || body.password.is_empty() {
        return Err(ApiError::validation("email and password are required"));
    }
    // Strict limits before any password work: per client IP and per account.
    ratelimit::enforce(
        &state,
        "login_ip",
        &ip.to_string(),
        state.settings.rate_limit.login,
    )
    .await?;
    ratelimit::enforce(
        &state,
        "login_account",
        &email,
        state.settings.rate_limit.login,
    )
    .await?;

    let found = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&state.db)
        .await?;
    let password = body.password;
    let candidate = found.clone();
    // Verify on the blocking pool: argon2 is deliberately slow. Unknown users are checked
    // against a dummy hash so timing does not reveal which emails exist.
    let ok = tokio::task::spawn_blocking(move || match &candidate {
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
    let tokens = issue_tokens(&state, &state.db, &user, Uuid::now_v7()).await?;
    tracing::info!(user_id = %user.id, "login succeeded");
    Ok(Json(tokens))
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New token pair; the presented refresh token is spent", body = TokenResponse),
        (status = 401, description = "Invalid, expired, revoked or reused refresh token", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let hash = preflight_security::hash_token(body.refresh_token.trim());
    let txn = state.db.begin().await?;
    let Some(token) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(&hash))
        .one(&txn)
        .await?
    else {
        return Err(ApiError::unauthorized("refresh token is not valid"));
    };
    let now = Utc::now();
    if token.revoked_at.is_some() {
        return Err(ApiError::unauthorized("refresh token has been revoked"));
    }
    // Mark it used only if nobody else did: two concurrent refreshes cannot both win.
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(token.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected == 0 {
        revoke_family(&txn, token.family_id).await?;
        audit::record(
            &txn,
            &Actor::system(),
            audit::Entry {
                action: "auth.refresh_token_reuse",
                target_type: "user",
                target_id: token.user_id.to_string(),
                before: None,
                after: None,
                comment: Some(
                    "a spent refresh token was presented; its session was revoked".into(),
                ),
            },
        )
        .await?;
        txn.commit().await?;
        tracing::warn!(user_id = %token.user_id, "refresh token reuse detected; session revoked");
        return Err(ApiError::unauthorized(
            "refresh token was already used; the session has been revoked",
        ));
    }
    if token.expires_at <= now {
        return Err(ApiError::unauthorized("refresh token has expired"));
    }
    let Some(user) = user::Entity::find_by_id(token.user_id).one(&txn).await? else {
        return Err(ApiError::unauthorized("refresh token is not valid"));
    };
    if user.disabled {
        return Err(ApiError::unauthorized("user is disabled"));
    }
    let tokens = issue_tokens(&state, &txn, &user, token.family_id).await?;
    txn.commit().await?;
    Ok(Json(tokens))
}

async fn revoke_family(
    db: &impl sea_orm::ConnectionTrait,
    family: Uuid,
) -> Result<(), sea_orm::DbErr> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::FamilyId.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .map(|_| ())
}

/// Revokes every refresh token of a user (password change, disabling).
pub async fn revoke_all_for_user(
    db: &impl sea_orm::ConnectionTrait,
    user_id: Uuid,
) -> Result<(), sea_orm::DbErr> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .map(|_| ())
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 204, description = "The session (every refresh token of this login) is revoked"),
        (status = 401, description = "Unknown refresh token", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn logout(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<StatusCode> {
    let hash = preflight_security::hash_token(body.refresh_token.trim());
    let Some(token) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(&hash))
        .one(&state.db)
        .await?
    else {
        return Err(ApiError::unauthorized("refresh token is not valid"));
    };
    revoke_family(&state.db, token.family_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The calling user", body = Me),
        (status = 401, description = "Not authenticated", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn me(State(state): State<AppState>, auth: AuthUser) -> ApiResult<Json<Me>> {
    let Some(u) = user::Entity::find_by_id(auth.user_id)
        .one(&state.db)
        .await?
    else {
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
