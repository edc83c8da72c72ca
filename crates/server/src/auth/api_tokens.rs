//! Personal API tokens for CI and scripts: shown once, stored hashed, scoped, expiring,
//! revocable, with the time of last use.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::authn::API_TOKEN_PREFIX;
use super::{AuthUser, Credential, Scope};
use crate::db::audit;
use crate::db::entities::api_token;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::state::AppState;

const MAX_TOKEN_DAYS: i64 = 366;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiToken {
    /// A label to recognise the token by, e.g. "CI deploy gate".
    pub name: String,
    /// Defaults to `["read"]`.
    #[serde(default)]
    pub scopes: Option<Vec<Scope>>,
    /// Days until the token expires (1–366, default 90).
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

/// A token as listed: never includes the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiTokenInfo {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

/// The response to creating a token: the only time the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiToken {
    #[serde(flatten)]
    pub info: ApiTokenInfo,
    /// The token itself. Store it now: it cannot be shown again.
    pub token: String,
}

impl From<api_token::Model> for ApiTokenInfo {
    fn from(m: api_token::Model) -> Self {
        Self {
            id: m.id,
            scopes: Scope::parse_list(&m.scopes),
            name: m.name,
            created_at: m.created_at,
            expires_at: m.expires_at,
            last_used_at: m.last_used_at,
            revoked: m.revoked_at.is_some(),
        }
    }
}

fn require_session(auth: &AuthUser) -> ApiResult<()> {
    if matches!(auth.credential, Credential::ApiToken { .. }) {
        return Err(ApiError::forbidden(
            "API tokens cannot manage API tokens; log in instead",
        ));
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "Your API tokens", body = [ApiTokenInfo]),
        (status = 401, description = "Not authenticated", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
) -> ApiResult<Json<Vec<ApiTokenInfo>>> {
    let rows = api_token::Entity::find()
        .filter(api_token::Column::UserId.eq(auth.user_id))
        .order_by_desc(api_token::Column::CreatedAt)
        .all(&state.db)
        .await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/me/tokens", tag = "auth", security(("bearer" = [])),
    request_body = CreateApiToken,
    responses((status = 201, description = "Created; the token is shown once", body = CreatedApiToken),
        (status = 403, description = "Called with an API token", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name, scopes or expiry", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<CreateApiToken>,
) -> ApiResult<(StatusCode, Json<CreatedApiToken>)> {
    require_session(&auth)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::validation("invalid token").field("name", "must be 1–200 characters"));
    }
    let scopes = body.scopes.unwrap_or_else(|| vec![Scope::Read]);
    if scopes.is_empty() {
        return Err(ApiError::validation("invalid token").field("scopes", "at least one scope"));
    }
    let days = body.expires_in_days.unwrap_or(90);
    if !(1..=MAX_TOKEN_DAYS).contains(&days) {
        return Err(ApiError::validation("invalid token").field(
            "expires_in_days",
            format!("must be between 1 and {MAX_TOKEN_DAYS}"),
        ));
    }
    let mut scope_list: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    scope_list.sort_unstable();
    scope_list.dedup();
    let generated = preflight_security::token::generate(API_TOKEN_PREFIX);
    let now = Utc::now();
    let model = api_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(auth.user_id),
        name: Set(name.to_owned()),
        token_hash: Set(generated.hash.clone()),
        scopes: Set(scope_list.join(" ")),
        created_at: Set(now),
        expires_at: Set(Some(now + chrono::Duration::days(days))),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&state.db)
    .await?;
    audit::record(
        &state.db,
        &auth.actor(),
        audit::Entry {
            action: "api_token.create",
            target_type: "api_token",
            target_id: model.id.to_string(),
            before: None,
            after: Some(serde_json::json!({"name": model.name, "scopes": model.scopes})),
            comment: None,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiToken {
            info: model.into(),
            token: generated.plaintext.expose_secret().to_owned(),
        }),
    ))
}

#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"),
        (status = 404, description = "No such token of yours", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn revoke(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let Some(tok) = api_token::Entity::find_by_id(id)
        .filter(api_token::Column::UserId.eq(auth.user_id))
        .one(&state.db)
        .await?
    else {
        return Err(ApiError::not_found("no such API token"));
    };
    if tok.revoked_at.is_none() {
        let mut active: api_token::ActiveModel = tok.into();
        active.revoked_at = Set(Some(Utc::now()));
        active.update(&state.db).await?;
        audit::record(
            &state.db,
            &auth.actor(),
            audit::Entry {
                action: "api_token.revoke",
                target_type: "api_token",
                target_id: id.to_string(),
                before: None,
                after: None,
                comment: None,
            },
        )
        .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
